"""Plain typed records the engine passes around (pydantic stays at the edges)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .states import RunStatus

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def to_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def from_iso(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


@dataclass(frozen=True)
class Run:
    id: int
    job: str
    status: str
    queue: str
    priority: int
    params: dict[str, Any]
    partition: str | None
    definition: dict[str, Any]
    idempotency_key: str | None
    backfill_id: int | None
    backfill_seq: int | None
    schedule_tick: str | None
    attempt: int
    attempts_used: int
    node: str | None
    exit_code: int | None
    next_attempt_at: str | None
    checkpoint_floor: int
    cancel_requested: dict[str, Any] | None
    created_at: str
    started_at: str | None
    ended_at: str | None
    updated_at: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Run:
        return cls(
            id=row["id"],
            job=row["job"],
            status=row["status"],
            queue=row["queue"],
            priority=row["priority"],
            params=json.loads(row["params"]),
            partition=row["partition_key"],
            definition=json.loads(row["definition"]),
            idempotency_key=row["idempotency_key"],
            backfill_id=row["backfill_id"],
            backfill_seq=row["backfill_seq"],
            schedule_tick=row["schedule_tick"],
            attempt=row["attempt"],
            attempts_used=row["attempts_used"],
            node=row["node"],
            exit_code=row["exit_code"],
            next_attempt_at=row["next_attempt_at"],
            checkpoint_floor=row["checkpoint_floor"],
            cancel_requested=json.loads(row["cancel_requested"]) if row["cancel_requested"] else None,
            created_at=row["created_at"],
            started_at=row["started_at"],
            ended_at=row["ended_at"],
            updated_at=row["updated_at"],
        )

    @property
    def max_attempts(self) -> int:
        """The job's attempt budget, as snapshotted with the run."""
        return int(self.definition.get("retry", {}).get("max_attempts", 1))

    @property
    def last_attempt(self) -> int:
        """The number of the last attempt the run may make if every one fails.

        An operator retry grants a fresh budget (attempts_used back to 0) while attempt numbers keep counting, and
        attempts that end without using the budget (yield, preemption) move it on too. A running attempt is
        counted in attempts_used only when it ends."""
        uncounted = 1 if self.status == RunStatus.RUNNING else 0
        return self.attempt + self.max_attempts - self.attempts_used - uncounted


@dataclass(frozen=True)
class Attempt:
    id: int
    run_id: int
    number: int
    node: str
    status: str
    reason: str | None
    exit_code: int | None
    error: str | None
    pid: int | None
    pid_start: str | None
    remote_dir: str
    checkpoint_in: str | None
    started_at: str
    ended_at: str | None
    stdout_offset: int
    stderr_offset: int
    parsed_offset: int
    kill_signal_at: str | None
    kill_reason: str | None
    progress_done: float | None
    progress_total: float | None
    progress_message: str | None
    progress_at: str | None
    log_error: str | None
    cleaned: bool
    #: When log capture began failing, while it is stalled.
    log_stalled_at: str | None = None
    #: Seconds its node may stay unreachable before it is given up (None: dispatched before leases were recorded).
    lost_after: float | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Attempt:
        values = {name: row[name] for name in row.keys() if name in cls.__dataclass_fields__}
        values["cleaned"] = bool(values["cleaned"])
        return cls(**values)


@dataclass(frozen=True)
class Event:
    id: int
    at: str
    run_id: int | None
    attempt: int | None
    kind: str
    old_status: str | None
    new_status: str | None
    actor: str | None
    detail: str | None
    #: The operator's --reason for a destructive action, else None.
    reason: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Event:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Checkpoint:
    id: int
    run_id: int
    attempt: int
    at: str
    value: str
    offset: int

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Checkpoint:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class NodeRecord:
    """A node's row in the store: its connection state (a states.NodeState), drain and quarantine."""

    name: str
    state: str
    drained: bool
    drain_reason: str | None
    drain_deadline: str | None
    last_error: str | None
    last_seen_at: str | None
    down_since: str | None
    #: Why the node's last probe failed although it answered; None once a probe succeeds.
    probe_error: str | None = None
    #: Infrastructure failures in a row on this node, and why and since when it takes no new work.
    infra_failures: int = 0
    quarantined_at: str | None = None
    quarantine_reason: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> NodeRecord:
        return cls(
            name=row["name"],
            state=row["state"],
            drained=bool(row["drained"]),
            drain_reason=row["drain_reason"],
            drain_deadline=row["drain_deadline"],
            last_error=row["last_error"],
            last_seen_at=row["last_seen_at"],
            down_since=row["down_since"],
            probe_error=row["probe_error"],
            infra_failures=row["infra_failures"],
            quarantined_at=row["quarantined_at"],
            quarantine_reason=row["quarantine_reason"],
        )


@dataclass(frozen=True)
class QueueState:
    name: str
    priority: int
    max_running: int | None
    paused: bool
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Backfill:
    id: int
    job: str
    status: str
    max_parallel: int | None
    order_by: str
    canary: int | None
    canary_released: bool
    range_from: str | None
    range_to: str | None
    params: dict[str, Any]
    queue: str
    priority: int
    planned: int
    skipped: int
    created_by: str
    created_at: str
    updated_at: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Backfill:
        values = {name: row[name] for name in cls.__dataclass_fields__}
        values["params"] = json.loads(values["params"])
        values["canary_released"] = bool(values["canary_released"])
        return cls(**values)


@dataclass(frozen=True)
class Arrival:
    """The bytes from `offset` on (up to the next arrival) reached the bastion at `at` (ISO-8601 UTC)."""

    offset: int
    at: str


def merge_arrivals(known: list[Arrival], more: list[Arrival]) -> list[Arrival]:
    """`known` (in offset order) extended by `more`; an entry drops the earlier ones at or past its offset."""
    merged = list(known)
    for arrival in more:
        while merged and merged[-1].offset >= arrival.offset:
            merged.pop()
        merged.append(arrival)
    return merged
