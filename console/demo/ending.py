"""How the demo ends: SIGTERM turned into a quit, and the lines it prints on the way out."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from scheduler.engine import Engine
from scheduler.home import Home
from scheduler.states import RunStatus

#: The exit status of a process ended by SIGTERM, which the demo reports after its cleanup.
TERMINATED = 128 + signal.SIGTERM
#: The exit status of a process ended by Ctrl-C (SIGINT).
INTERRUPTED = 128 + signal.SIGINT
SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class TermSignal:
    """While active, SIGTERM runs the quit the demo is in (its cleanup included) instead of killing the process."""

    def __init__(self) -> None:
        self.received = False
        self._stop: Callable[[], object] | None = None
        self._previous: SignalHandler = signal.SIG_DFL

    def stop_with(self, stop: Callable[[], object] | None) -> None:
        """Call stop (in the running event loop) on SIGTERM; None: raise SystemExit where the signal lands."""
        self._stop = stop

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = True
        try:
            # The handler runs on the main thread: inside its event loop, if one runs.
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if self._stop is None or loop is None:
            raise SystemExit(TERMINATED)
        loop.call_soon_threadsafe(self._stop)

    def __enter__(self) -> TermSignal:
        self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        signal.signal(signal.SIGTERM, self._previous)


async def _status_counts(home: Home) -> dict[str, int]:
    async with await Engine.open(home) as engine:
        return await engine.status_counts()


def status_counts(home: Home) -> dict[str, int]:
    """Runs by status in the demo's store; empty if it cannot be read (the demo failed before it had one)."""
    if not home.root.exists():
        return {}
    try:
        return asyncio.run(_status_counts(home))
    except Exception:  # the summary must never hide why the demo ended
        return {}


def summary_lines(counts: dict[str, int], folder: Path, home: Home, kept: bool) -> list[str]:
    """What the demo prints last: its runs by status, and where its state is, or that it is gone."""
    total = sum(counts.values())
    by_status = ", ".join(f"{counts[status]} {status}" for status in RunStatus if counts.get(status))
    lines = [f"sluice demo ended: {total} runs" + (f": {by_status}" if by_status else "")]
    # From ./dev.sh `sluice` is .venv/bin/sluice, not on PATH; from `python -m` there is no program name to give.
    sluice = sys.argv[0] if not shutil.which("sluice") and Path(sys.argv[0]).name == "sluice" else "sluice"
    if kept:
        lines.append(f"kept the demo's folder {folder}; look again: {sluice} console --home {home.root}")
    else:
        lines.append(f"removed the demo's folder {folder}; keep it next time: {sluice} demo --home DIR")
    return lines
