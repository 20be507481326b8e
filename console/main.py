"""The `sluice` program: the CLI, which hands `sluice console` to the Textual app and `sluice demo` to the demo.

The three products of the console package never import each other sideways (`console/cli` and `console/tui`
stay apart); this module is the one place that knows all of them, and it imports the heavy ones only when
their command runs, so a plain CLI command does not pay for Textual.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from scheduler.home import Home

if TYPE_CHECKING:  # only the type: importing the parser costs a shell's tab press its speed
    from .cli.parser import Frontend


def _console(args: argparse.Namespace) -> int:
    from .tui.app import run_console

    return run_console(Home.resolve(args.home, args.jobs), readonly=args.readonly)


def _demo(args: argparse.Namespace) -> int:
    from .demo.demo import run_demo

    return run_demo(Path(args.home) if args.home else None, console=not args.no_console)


FRONTENDS: dict[str, Frontend] = {"console": _console, "demo": _demo}


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    if words[:1] == ["__complete"]:  # shell completion: names only, before the engine and argparse are loaded
        from .cli.complete_names import main as complete_names

        return complete_names(words[1:])
    from .cli.main import main as cli_main

    return cli_main(argv, FRONTENDS)


if __name__ == "__main__":
    sys.exit(main())
