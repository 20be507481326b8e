"""An attempt's activity as the CLI and console show it: the run's activity events, each as action and outcome."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .models import Event
from .states import ATTEMPT_ACTIVITY, ActivityAction, EventKind


@dataclass(frozen=True)
class ActivityEntry:
    at: str
    attempt: int | None
    action: ActivityAction
    outcome: str
    detail: str


def activity_of(events: Iterable[Event], attempt: int | None = None) -> list[ActivityEntry]:
    """The activity among a run's events (of one attempt, or of all), in the order they happened."""
    entries = []
    for event in events:
        if event.kind not in ATTEMPT_ACTIVITY or event.attempt is None:
            continue
        if attempt is not None and event.attempt != attempt:
            continue
        action, outcome = ATTEMPT_ACTIVITY[EventKind(event.kind)]
        entries.append(ActivityEntry(event.at, event.attempt, action, outcome, event.detail or ""))
    return entries
