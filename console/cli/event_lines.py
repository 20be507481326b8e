"""Events as terminal lines, one per event (time, kind, run, change, detail), printed as they are committed.

The foreground `sluice scheduler` and the headless demo print the same lines. Plain text unless the stream is a
terminal and NO_COLOR is unset, so journald and log files get no escape codes; on the journal stream each line
starts with its level (`<3>` a dead letter, `<4>` node trouble, `<6>` the rest), see journal.py.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TextIO

from scheduler.engine import Engine
from scheduler.errors import SluiceError
from scheduler.models import Event
from scheduler.states import DEAD_LETTERS, EventKind, RunStatus

from ..timefmt import shown
from . import journal

_RED, _GREEN, _YELLOW, _RESET = "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[0m"
#: Events about infrastructure trouble, shown red like a failed run.
_TROUBLE = frozenset(
    {
        EventKind.NODE_DOWN,
        EventKind.NODE_REFUSED,
        EventKind.NODE_QUARANTINED,
        EventKind.PROBE_FAILED,
        EventKind.SCHEDULER_ERROR,
        EventKind.STORE_BUSY,
        EventKind.CONFIG_ERROR,
        EventKind.LOG_CAPTURE_STALLED,
        EventKind.LOG_GAP,
    }
)


def wants_color(stream: TextIO) -> bool:
    """Colour only on a terminal that is not dumb, and never with NO_COLOR set (https://no-color.org)."""
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _color_of(event: Event) -> str | None:
    if event.new_status == RunStatus.SUCCEEDED:
        return _GREEN
    if event.new_status in DEAD_LETTERS or event.kind in _TROUBLE:
        return _RED
    if event.new_status == RunStatus.CANCELLED:
        return _YELLOW
    return None


#: Trouble that stops work until someone acts, recorded by journald as an error (a dead letter is one too).
_ERRORS = frozenset({EventKind.SCHEDULER_ERROR, EventKind.CONFIG_ERROR})


def event_priority(event: Event) -> int:
    """The journal level of an event: what needs attention stands out, as it does in colour."""
    if event.new_status in DEAD_LETTERS or event.kind in _ERRORS:
        return journal.ERR
    if event.kind in _TROUBLE:
        return journal.WARNING
    if event.new_status == RunStatus.CANCELLED:
        return journal.NOTICE
    return journal.INFO


def event_line(event: Event, color: bool = False) -> str:
    """`2026-12-02 14:57:29 UTC attempt_ended     run 7     running -> succeeded  exit 0`, without a newline."""
    at = shown(event.at, "full")  # the operator's zone, marked, as every other time the CLI prints
    run = "-" if event.run_id is None else f"run {event.run_id}"
    change = f"{event.old_status or ''} -> {event.new_status}" if event.new_status else ""
    kind = f"{event.kind:<17}"
    painted = _color_of(event) if color else None
    if painted:
        kind = f"{painted}{kind}{_RESET}"
    fields = [f"{run:<8}", f"{change:<21}" if change else "", event.detail or ""]
    return f"{at} {kind} " + "  ".join(field for field in fields if field).rstrip()


class EventPrinter:
    """Prints, oldest first, every event committed after a starting id that `keep` accepts."""

    def __init__(
        self,
        engine: Engine,
        stream: TextIO,
        after_id: int,
        keep: Callable[[Event], bool] = lambda event: True,
    ) -> None:
        self.engine = engine
        self.stream = stream
        self.last_id = after_id
        self.keep = keep
        self.color = wants_color(stream)
        self.journal = journal.is_journal(stream)

    @classmethod
    async def from_now(
        cls, engine: Engine, stream: TextIO, keep: Callable[[Event], bool] = lambda event: True
    ) -> EventPrinter:
        """A printer of the events committed from now on."""
        newest = await engine.events(1)
        return cls(engine, stream, newest[0].id if newest else 0, keep)

    async def print_new(self) -> None:
        """Print every event committed since the last call, in pages, then flush (one line reaches a pipe whole)."""
        while events := await self.engine.events_after(self.last_id):
            for event in events:
                if self.keep(event):
                    line = journal.prefixed(event_line(event, self.color), event_priority(event), self.journal)
                    print(line, file=self.stream)
            self.last_id = events[-1].id
        self.stream.flush()

    async def follow(self, stop: asyncio.Event, interval: float = 0.25) -> None:
        """Print new events every `interval` until `stop` is set; then print what is left."""
        while not stop.is_set():
            try:
                await self.print_new()
            except SluiceError:  # e.g. the store is busy: the same lines come on a later turn
                pass
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass
        await self.print_new()
