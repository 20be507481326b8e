"""Parse what the operator types after `:` (a view and its scope); `/` and a view's scope use the shared run filter."""

from __future__ import annotations

from dataclasses import dataclass, field

from scheduler.run_filter import RunFilter, describe_filter, parse_run_filter

__all__ = ["ViewRequest", "describe_filter", "parse_run_filter", "parse_view"]

ALIASES = {
    "overview": "overview", "o": "overview", "queues": "overview", "queue": "overview", "home": "overview",
    "nodes": "nodes", "node": "nodes", "n": "nodes",
    "jobs": "jobs", "job": "jobs", "j": "jobs",
    "runs": "runs", "r": "runs",
    "run": "run",
    "backfills": "backfills", "bf": "backfills", "backfill": "backfill",
    "dead": "dead", "deadletters": "dead", "dl": "dead",
    "events": "events", "ev": "events", "audit": "events",
}


@dataclass(frozen=True)
class ViewRequest:
    view: str
    run_filter: RunFilter = field(default_factory=RunFilter)
    target: int | None = None


def parse_view(text: str) -> ViewRequest:
    """`runs failed job=etl` -> the runs view with that filter; raises ValueError with a hint."""
    words = text.strip().lstrip(":").split()
    if not words:
        raise ValueError("type a view: overview, runs, backfills, dead, events, nodes, jobs (e.g. :runs failed)")
    if len(words) == 1 and words[0].isdigit():  # `:6`, as k9s opens a resource by name: run 6
        return ViewRequest("run", target=int(words[0]))
    name = ALIASES.get(words[0].lower())
    if name is None:
        raise ValueError(f"no view {words[0]!r}: try overview, runs, backfills, dead, events, nodes, jobs or a run id")
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
