"""The clock the engine, the scheduler loop and the triggers read: injected, so tests can step time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

#: Returns the current moment, timezone-aware.
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)
