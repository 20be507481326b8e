"""`sluice`: the command line. Every command goes through the engine facade; bad input exits 2 with no traceback."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Mapping

from scheduler.clock import utc_clock_text
from scheduler.engine import Engine
from scheduler.errors import SluiceError, UsageError
from scheduler.home import Home

from ..timefmt import display_zone, zoned_clock
from . import activity, completion, fleet, systemd
from . import backfills as commands_backfill
from . import runs as commands
from .journal import ERR, is_journal, prefixed
from .parser import Frontend, apply_global_options, build_parser, check_new_queue, check_text

HANDLERS: dict[str, Callable[[Engine, argparse.Namespace], Awaitable[int]]] = {
    "submit": commands.submit, "runs": commands.runs, "show": commands.show, "logs": commands.logs,
    "wait": commands.wait, "cancel": commands.cancel, "retry": commands.retry, "priority": commands.priority,
    "jobs": fleet.jobs, "nodes": fleet.nodes, "drain": fleet.drain, "undrain": fleet.drain,
    "queues": fleet.queues, "pause": fleet.pause, "resume": fleet.pause, "events": fleet.events,
    "activity": activity.activity, **commands_backfill.HANDLERS,
}


#: Commands that only read: they open the store read-only, so they change nothing and work in a home this user
#: may not write. `backfill --dry-run` too.
READ_ONLY = frozenset({"runs", "show", "activity", "logs", "wait", "jobs", "nodes", "queues", "events", "backfills",
                       "backfill-show"})


def only_reads(args: argparse.Namespace) -> bool:
    return args.command in READ_ONLY or (args.command == "backfill" and args.dry_run)


async def _with_engine(args: argparse.Namespace) -> int:
    home = Home.resolve(args.home, args.jobs)
    # --json keeps the times inside wait reasons in UTC, as it keeps every other time.
    show_time = utc_clock_text if getattr(args, "json", False) else zoned_clock
    engine = await Engine.open(home, readonly=only_reads(args), show_time=show_time)
    try:
        return await HANDLERS[args.command](engine, args)
    finally:
        await engine.close()


#: Commands that need no store: they print what the home's files and this installation say.
OFFLINE: dict[str, Frontend] = {"systemd-unit": systemd.systemd_unit, "completion": completion.completion}


def dispatch(args: argparse.Namespace, frontends: Mapping[str, Frontend]) -> int:
    if args.command in frontends:
        return frontends[args.command](args)
    if args.command in OFFLINE:
        return OFFLINE[args.command](args)
    if args.command not in HANDLERS and args.command not in ("init", "scheduler"):
        raise UsageError(f"`sluice {args.command}` is served by console.main, not by the CLI package alone")
    if args.command == "init":
        from .init import init_home

        return init_home(Home.resolve(args.home, args.jobs))
    if args.command == "scheduler":
        from .scheduler import run_scheduler

        return run_scheduler(Home.resolve(args.home, args.jobs), args.poll_interval, args.node_lost_after,
                             args.retention)
    return asyncio.run(_with_engine(args))


def main(argv: list[str] | None = None, frontends: Mapping[str, Frontend] | None = None) -> int:
    """Run one command; `frontends` serve the commands another part of the console owns (see console/main.py)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        apply_global_options(parser, args)
        check_text(parser, args)
        check_new_queue(args)
        display_zone()  # a bad SLUICE_TZ is refused before anything runs, not at the first time shown
        return dispatch(args, frontends or {})
    except SluiceError as exc:
        print(prefixed(f"sluice: error: {exc}", ERR, is_journal(sys.stderr)), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0

