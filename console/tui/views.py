"""Parse what the operator types after `:` (a view and its scope) and after `/` (a runs filter)."""

from __future__ import annotations

from dataclasses import dataclass, field

from scheduler.states import RunStatus
from scheduler.store.queries import RunFilter

STATUS_WORDS = {status.value for status in RunStatus} | {"dead", "waiting", "ended"}
STATUS_GROUPS = {
    "dead": ("failed", "timed_out"),
    "waiting": ("queued", "retry_wait"),
    "ended": ("succeeded", "failed", "cancelled", "timed_out"),
}
ALIASES = {
    "overview": "overview", "o": "overview", "queues": "overview", "queue": "overview", "nodes": "overview",
    "node": "overview", "home": "overview",
    "runs": "runs", "r": "runs",
    "run": "run",
    "backfills": "backfills", "bf": "backfills", "backfill": "backfill",
    "dead": "dead", "deadletters": "dead", "dl": "dead",
    "events": "events", "ev": "events", "audit": "events",
}
FILTER_KEYS = {"status", "job", "queue", "node", "backfill", "bf"}


@dataclass(frozen=True)
class ViewRequest:
    view: str
    run_filter: RunFilter = field(default_factory=RunFilter)
    target: int | None = None


def parse_view(text: str) -> ViewRequest:
    """`runs failed job=etl` -> the runs view with that filter; raises ValueError with a hint."""
    words = text.strip().lstrip(":").split()
    if not words:
        raise ValueError("type a view: overview, runs, backfills, dead, events (e.g. :runs failed)")
    name = ALIASES.get(words[0].lower())
    if name is None:
        raise ValueError(f"no view {words[0]!r}: try overview, runs, backfills, dead, events")
    rest = words[1:]
    if name in ("run", "backfill"):
        if len(rest) == 1 and rest[0].isdigit():
            return ViewRequest(name, target=int(rest[0]))
        if name == "backfill" and not rest:
            return ViewRequest("backfills")
        raise ValueError(f":{name} needs an id, e.g. :{name} 42")
    if name == "runs":
        return ViewRequest("runs", parse_run_filter(" ".join(rest)))
    return ViewRequest(name)


def parse_run_filter(text: str) -> RunFilter:
    """Status words, `key=value` (or key:value) for status, job, queue, node, backfill; the rest is free text."""
    statuses: list[str] = []
    fields: dict[str, object] = {}
    free: list[str] = []
    for word in text.split():
        key, sep, value = word.replace(":", "=", 1).partition("=")
        key = key.lower()
        if sep and key in FILTER_KEYS and value:
            if key == "status":
                statuses.extend(_statuses(value))
            elif key in ("backfill", "bf"):
                if not value.isdigit():
                    raise ValueError(f"backfill={value}: expected a backfill id")
                fields["backfill_id"] = int(value)
            else:
                fields[key] = value
        elif word.lower() in STATUS_WORDS:
            statuses.extend(_statuses(word.lower()))
        else:
            free.append(word)
    return RunFilter(statuses=tuple(dict.fromkeys(statuses)), text=" ".join(free) or None, **fields)  # type: ignore[arg-type]


def _statuses(word: str) -> tuple[str, ...]:
    if word in STATUS_GROUPS:
        return STATUS_GROUPS[word]
    if word not in STATUS_WORDS:
        raise ValueError(f"unknown status {word!r} (statuses: {', '.join(sorted(STATUS_WORDS))})")
    return (word,)


def describe_filter(run_filter: RunFilter) -> str:
    """The filter as the operator would type it, for the status line."""
    parts = list(run_filter.statuses)
    for key, value in (("job", run_filter.job), ("queue", run_filter.queue), ("node", run_filter.node),
                       ("backfill", run_filter.backfill_id)):
        if value is not None:
            parts.append(f"{key}={value}")
    if run_filter.text:
        parts.append(run_filter.text)
    return " ".join(parts)
