"""`sluice __complete KIND [--home DIR] [--jobs DIR]`: the names a shell completes, one per line.

Hidden, and called by the scripts of `sluice completion`. console/main.py runs it before importing the rest of
the CLI, so a tab press costs an interpreter start and a few file reads. It reads the home's files and the store
read-only, and never fails loudly: whatever cannot be read adds no names (a broken file is for `sluice jobs` and
the scheduler to report, not a shell prompt).
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scheduler.home import Home
from scheduler.store.names import stored_names

#: The queue every home has, whatever its files and store say.
DEFAULT_QUEUE = "default"


def _toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def _declared(path: Path, table: str) -> list[str]:
    """The `name` of each [[table]] of a TOML file."""
    entries = _toml(path).get(table)
    if not isinstance(entries, list):
        return []
    return [entry["name"] for entry in entries if isinstance(entry, dict) and isinstance(entry.get("name"), str)]


def _job_names(home: Home) -> list[str]:
    names = []
    try:
        files = sorted(home.jobs_dir.glob("*.toml"))
    except OSError:
        return []
    for path in files:
        name = _toml(path).get("name", path.stem)  # a job is named after its file unless it says otherwise
        names.append(name if isinstance(name, str) else path.stem)
    return names


NAMES: dict[str, Callable[[Home], list[str]]] = {
    "jobs": _job_names,
    "nodes": lambda home: _declared(home.nodes_file, "node") + stored_names(home.db_path, "nodes"),
    "queues": lambda home: [DEFAULT_QUEUE, *_declared(home.queues_file, "queue"),
                            *stored_names(home.db_path, "queues")],
    "backfills": lambda home: stored_names(home.db_path, "backfills"),
}


def _option(words: list[str], flag: str) -> str | None:
    """The value of `flag VALUE` or `flag=VALUE` (the last one given)."""
    value = None
    for index, word in enumerate(words):
        if word == flag and index + 1 < len(words):
            value = words[index + 1]
        elif word.startswith(flag + "="):
            value = word[len(flag) + 1:]
    return value


def main(words: list[str]) -> int:
    """Print the names of the kind `words[0]`, sorted and each once; 2 for a kind that does not exist."""
    if not words or words[0] not in NAMES:
        print(f"sluice __complete: expected one of {', '.join(sorted(NAMES))}", file=sys.stderr)
        return 2
    try:
        home = Home.resolve(_option(words, "--home"), _option(words, "--jobs"))
        names = NAMES[words[0]](home)
    except Exception:  # a shell prompt is no place for an error: no names instead
        return 0
    key: Callable[[str], Any] = (lambda name: (len(name), name)) if words[0] == "backfills" else str
    for name in sorted(set(names), key=key):
        print(name)
    return 0
