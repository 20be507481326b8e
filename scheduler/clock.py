"""The clock the engine, the scheduler loop and the triggers read: injected, so tests can step time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

#: Returns the current moment, timezone-aware.
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


#: Writes a moment into a reason people read ("14:03:07 CET"); the console and the CLI pass one in their zone.
TimeText = Callable[[datetime], str]


def utc_clock_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M:%S UTC")
