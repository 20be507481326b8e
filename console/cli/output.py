"""JSON output of the CLI: frozen pydantic models with stable field names; times are ISO 8601 UTC."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from scheduler.activity import ActivityEntry
from scheduler.engine import NodeView, RunDetail
from scheduler.models import Attempt, Backfill, Checkpoint, Event, QueueState, Run
from scheduler.states import UNREACHABLE


class Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class RunOut(Out):
    id: int
    job: str
    status: str
    queue: str
    priority: int
    params: dict[str, str]
    partition: str | None
    attempt: int
    node: str | None
    exit_code: int | None
    created_at: str
    started_at: str | None
    ended_at: str | None
    backfill_id: int | None
    next_attempt_at: str | None
    wait_reason: str | None = None

    @classmethod
    def of(cls, run: Run, wait_reason: str | None = None) -> RunOut:
        return cls(id=run.id, job=run.job, status=run.status, queue=run.queue, priority=run.priority,
                   params=run.params, partition=run.partition, attempt=run.attempt, node=run.node,
                   exit_code=run.exit_code, created_at=run.created_at, started_at=run.started_at,
                   ended_at=run.ended_at, backfill_id=run.backfill_id, next_attempt_at=run.next_attempt_at,
                   wait_reason=wait_reason)


class AttemptOut(Out):
    number: int
    node: str
    status: str
    reason: str | None
    exit_code: int | None
    error: str | None
    pid: int | None
    started_at: str
    ended_at: str | None
    stdout_bytes: int
    stderr_bytes: int
    checkpoint_in: str | None
    progress: dict[str, Any] | None
    log_error: str | None
    #: Seconds its node may stay unreachable before it is given up and its run dispatched again.
    lost_after: float | None = None

    @classmethod
    def of(cls, attempt: Attempt) -> AttemptOut:
        progress = None
        if attempt.progress_total:
            progress = {"done": attempt.progress_done, "total": attempt.progress_total,
                        "message": attempt.progress_message, "at": attempt.progress_at}
        return cls(number=attempt.number, node=attempt.node, status=attempt.status, reason=attempt.reason,
                   exit_code=attempt.exit_code, error=attempt.error, pid=attempt.pid, started_at=attempt.started_at,
                   ended_at=attempt.ended_at, stdout_bytes=attempt.stdout_offset, stderr_bytes=attempt.stderr_offset,
                   checkpoint_in=attempt.checkpoint_in, progress=progress, log_error=attempt.log_error,
                   lost_after=attempt.lost_after)


class EventOut(Out):
    id: int
    at: str
    run_id: int | None
    attempt: int | None
    kind: str
    old_status: str | None
    new_status: str | None
    actor: str | None
    detail: str | None
    #: The operator's --reason for a destructive action (also in the detail), else null.
    reason: str | None = None

    @classmethod
    def of(cls, event: Event) -> EventOut:
        return cls(**event.__dict__)


class ActivityOut(Out):
    at: str
    attempt: int | None
    #: launch, probe, signal, fence, end or cleanup (scheduler/states.py: ActivityAction).
    action: str
    outcome: str
    detail: str

    @classmethod
    def of(cls, entry: ActivityEntry) -> ActivityOut:
        return cls(at=entry.at, attempt=entry.attempt, action=entry.action, outcome=entry.outcome,
                   detail=entry.detail)


class CheckpointOut(Out):
    attempt: int
    at: str
    value: str

    @classmethod
    def of(cls, checkpoint: Checkpoint) -> CheckpointOut:
        return cls(attempt=checkpoint.attempt, at=checkpoint.at, value=checkpoint.value)


class RunDetailOut(RunOut):
    definition: dict[str, Any]
    attempts: list[AttemptOut]
    events: list[EventOut]
    checkpoints: list[CheckpointOut]
    #: While it runs: why its node cannot report on it (a failing probe, an unreachable node).
    node_error: str | None

    @classmethod
    def of_detail(cls, detail: RunDetail, wait_reason: str | None) -> RunDetailOut:
        base = RunOut.of(detail.run, wait_reason).model_dump()
        return cls(**base, definition=detail.run.definition, node_error=detail.node_error,
                   attempts=[AttemptOut.of(a) for a in detail.attempts],
                   events=[EventOut.of(e) for e in detail.events],
                   checkpoints=[CheckpointOut.of(c) for c in detail.checkpoints])


class NodeOut(Out):
    name: str
    host: str
    port: int
    state: str
    slots: int
    slots_used: int
    labels: list[str]
    drained: bool
    #: No new work goes there: too many infrastructure failures in a row (quarantine_reason says which).
    quarantined: bool
    quarantine_reason: str | None
    #: Infrastructure failures in a row so far (launch failed, not sent, vanished, node lost).
    infra_failures: int
    last_error: str | None
    #: Why its last probe failed although it answered (None once a probe succeeds).
    probe_error: str | None
    last_seen_at: str | None
    #: When the scheduler began counting the current outage (None while the node answers).
    down_since: str | None
    running: list[int]

    @classmethod
    def of(cls, view: NodeView) -> NodeOut:
        state = view.state
        return cls(name=view.config.name, host=view.config.host, port=view.config.port, state=view.status,
                   slots=view.config.slots, slots_used=view.slots_used, labels=view.config.labels,
                   drained=bool(state and state.drained), quarantined=bool(state and state.quarantined_at),
                   quarantine_reason=state.quarantine_reason if state else None,
                   infra_failures=state.infra_failures if state else 0,
                   last_error=state.last_error if state else None,
                   probe_error=state.probe_error if state else None,
                   last_seen_at=state.last_seen_at if state else None,
                   down_since=state.down_since if state and view.status in UNREACHABLE else None,
                   running=view.running)


class QueueOut(Out):
    name: str
    priority: int
    max_running: int | None
    paused: bool
    counts: dict[str, int]

    @classmethod
    def of(cls, queue: QueueState) -> QueueOut:
        return cls(name=queue.name, priority=queue.priority, max_running=queue.max_running, paused=queue.paused,
                   counts=queue.counts)


class BackfillOut(Out):
    id: int
    job: str
    status: str
    max_parallel: int | None
    order: str
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
    counts: dict[str, int] | None = None

    @classmethod
    def of(cls, backfill: Backfill, counts: dict[str, int] | None = None) -> BackfillOut:
        return cls(id=backfill.id, job=backfill.job, status=backfill.status, max_parallel=backfill.max_parallel,
                   order=backfill.order_by, canary=backfill.canary, canary_released=backfill.canary_released,
                   range_from=backfill.range_from, range_to=backfill.range_to, params=backfill.params,
                   queue=backfill.queue, priority=backfill.priority, planned=backfill.planned,
                   skipped=backfill.skipped, created_by=backfill.created_by, created_at=backfill.created_at,
                   counts=counts)


class PartitionOut(Out):
    partition: str
    run_id: int | None
    status: str
    wait_reason: str | None


class BackfillDetailOut(BackfillOut):
    partitions: list[PartitionOut]
