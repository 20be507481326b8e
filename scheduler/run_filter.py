"""Which runs to show, and the one filter language that `sluice runs`, the console's `:runs` and `/` share.

`failed job=etl_load node=worker-2 nightly` reads: status failed, job etl_load, on node worker-2, and
"nightly" somewhere in the job, partition or params. Status words include the named groups (`dead`,
`waiting`, `ended`); `key=value` and `key:value` are the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .states import DEAD_LETTERS, ENDED, WAITING, RunStatus, ordered


@dataclass(frozen=True)
class RunFilter:
    statuses: tuple[str, ...] = ()
    job: str | None = None
    queue: str | None = None
    node: str | None = None
    backfill_id: int | None = None
    text: str | None = None




#: The status groups an operator can type in place of a status, in the order of RunStatus.
STATUS_GROUPS: Mapping[str, tuple[RunStatus, ...]] = {
    "dead": ordered(DEAD_LETTERS), "waiting": ordered(WAITING), "ended": ordered(ENDED)}
STATUS_WORDS: frozenset[str] = frozenset({status.value for status in RunStatus} | set(STATUS_GROUPS))
#: Keys of `key=value` words; `bf` is short for `backfill`.
FILTER_KEYS: frozenset[str] = frozenset({"status", "job", "queue", "node", "backfill", "bf"})


class FilterError(ValueError):
    """A word of a filter that names an unknown status or a malformed value; the message says what is expected."""


def statuses_of(word: str) -> tuple[str, ...]:
    """The statuses one status word (or group name) stands for."""
    word = word.lower()
    if word in STATUS_GROUPS:
        return tuple(status.value for status in STATUS_GROUPS[word])
    if word not in STATUS_WORDS:
        raise FilterError(f"unknown status {word!r} (statuses: {', '.join(sorted(STATUS_WORDS))})")
    return (word,)


def parse_run_filter(text: str) -> RunFilter:
    """Status words, `key=value` (or key:value) for status, job, queue, node, backfill; the rest is free text."""
    statuses: list[str] = []
    fields: dict[str, str] = {}
    backfill_id: int | None = None
    free: list[str] = []
    for word in text.split():
        key, sep, value = word.replace(":", "=", 1).partition("=")
        key = key.lower()
        if sep and key in FILTER_KEYS and value:
            if key == "status":
                statuses.extend(statuses_of(value))
            elif key in ("backfill", "bf"):
                if not value.isdigit():
                    raise FilterError(f"backfill={value}: expected a backfill id")
                backfill_id = int(value)
            else:
                fields[key] = value
        elif word.lower() in STATUS_WORDS:
            statuses.extend(statuses_of(word))
        else:
            free.append(word)
    return RunFilter(statuses=tuple(dict.fromkeys(statuses)), job=fields.get("job"), queue=fields.get("queue"),
                     node=fields.get("node"), backfill_id=backfill_id, text=" ".join(free) or None)


def describe_filter(run_filter: RunFilter) -> str:
    """The filter as the operator would type it: parsing it again gives the same filter."""
    parts = list(run_filter.statuses)
    for key, value in (("job", run_filter.job), ("queue", run_filter.queue), ("node", run_filter.node),
                       ("backfill", run_filter.backfill_id)):
        if value is not None:
            parts.append(f"{key}={value}")
    if run_filter.text:
        parts.append(run_filter.text)
    return " ".join(parts)
