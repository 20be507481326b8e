"""Backfills: plan one run per partition, skip what already succeeded or is under way, create all in one go."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from .config import DEFAULT_MAX_PARTITIONS, JobDefinition
from .errors import NotFound, UsageError
from .jobspec import resolve_params
from .models import Backfill, Run
from .partitions import list_values, partition_range, validate_key
from .states import BackfillStatus, EventKind, RunStatus
from .store import queries as q

ORDERS = ("oldest-first", "newest-first")
#: A partition whose latest run is in one of these is skipped (unless --rerun-succeeded for succeeded ones).
SKIP_REASONS = {
    RunStatus.SUCCEEDED: "already succeeded",
    RunStatus.QUEUED: "already queued",
    RunStatus.RUNNING: "already running",
    RunStatus.RETRY_WAIT: "already waiting to retry",
}


@dataclass(frozen=True)
class BackfillPlan:
    job: str
    partitions: list[str]
    #: partition -> why it is skipped, with the run that makes it so.
    skipped: dict[str, str]
    params: dict[str, str]
    queue: str
    priority: int
    max_parallel: int | None
    order: str
    canary: int | None
    range_from: str | None
    range_to: str | None
    #: The list values as asked for (list partitions), so a re-plan asks the same question.
    values: list[str] | None = None
    definition: dict[str, Any] = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class BackfillDetail:
    backfill: Backfill
    counts: dict[str, int]
    runs: list[Run]
    reasons: dict[int, str]


def requested_partitions(job: JobDefinition, range_from: str | None, range_to: str | None,
                         values: list[str] | None, cap: int = DEFAULT_MAX_PARTITIONS) -> list[str]:
    if job.partition is None:
        raise UsageError(f"job {job.name} has no [partition] table, so it cannot be backfilled")
    if job.partition.kind == "list":
        if range_from or range_to:
            raise UsageError(f"job {job.name} has list partitions: use --values v1,v2,... instead of --from/--to")
        chosen = list_values(job.partition.values or [], values)
        if not chosen:
            raise UsageError(f"job {job.name}: --values names no partition: expected comma-separated values "
                             f"declared by the job, such as {','.join((job.partition.values or [])[:2])}")
    else:
        if values:
            raise UsageError(f"job {job.name} has {job.partition.kind} partitions: use --from and --to, not --values")
        if not range_from or not range_to:
            raise UsageError(f"job {job.name} has {job.partition.kind} partitions: give both --from and --to")
        chosen = partition_range(job.partition.kind, range_from, range_to, cap)
    if len(chosen) > cap:
        raise UsageError(f"{len(chosen):,} partitions is more than the cap of {cap:,}")
    return chosen


async def plan(conn: aiosqlite.Connection, job: JobDefinition, *, range_from: str | None, range_to: str | None,
               values: list[str] | None, params: dict[str, Any], max_parallel: int | None, order: str,
               canary: int | None, rerun_succeeded: bool, queue: str | None, priority: int | None,
               cap: int | None = None) -> BackfillPlan:
    if order not in ORDERS:
        raise UsageError(f"--order {order!r}: expected one of {', '.join(ORDERS)}")
    if max_parallel is not None and max_parallel < 1:
        raise UsageError("--max-parallel must be at least 1")
    if canary is not None and canary < 1:
        raise UsageError("--canary must be at least 1")
    partitions = requested_partitions(job, range_from, range_to, values, cap or job.max_partitions)
    assert job.partition is not None
    if job.partition.param in params:
        raise UsageError(f"-p {job.partition.param}=...: that param is the partition; the backfill fills it")
    resolved = resolve_params(job, params, partitions[0])
    resolved.pop(job.partition.param, None)
    if order == "newest-first":
        partitions.reverse()
    latest = await q.latest_runs_for_partitions(conn, job.name, partitions)
    skipped: dict[str, str] = {}
    planned: list[str] = []
    for key in partitions:
        run = latest.get(key)
        reason = SKIP_REASONS.get(RunStatus(run.status)) if run else None
        if reason and not (rerun_succeeded and run and run.status == RunStatus.SUCCEEDED):
            skipped[key] = f"{reason} (run {run.id})" if run else reason
        else:
            planned.append(key)
    listed = job.partition.kind == "list"
    return BackfillPlan(job.name, planned, skipped, resolved, queue or job.queue,
                        job.priority if priority is None else priority, max_parallel, order, canary,
                        None if listed else validate_key(job.partition.kind, range_from or "", arg_name="--from"),
                        None if listed else validate_key(job.partition.kind, range_to or "", arg_name="--to"),
                        list(values) if listed and values else None, job.model_dump(mode="json"))


async def create(conn: aiosqlite.Connection, job: JobDefinition, backfill_plan: BackfillPlan, at: str,
                 actor: str) -> tuple[int, list[int]]:
    """The backfill and all its runs, in the caller's (single) transaction."""
    assert job.partition is not None
    backfill_id = await q.insert_backfill(conn, {
        "job": job.name, "status": BackfillStatus.ACTIVE, "max_parallel": backfill_plan.max_parallel,
        "order_by": backfill_plan.order, "canary": backfill_plan.canary, "range_from": backfill_plan.range_from,
        "range_to": backfill_plan.range_to, "params": json.dumps(backfill_plan.params, sort_keys=True),
        "queue": backfill_plan.queue, "priority": backfill_plan.priority, "planned": len(backfill_plan.partitions),
        "skipped": len(backfill_plan.skipped), "created_by": actor, "created_at": at, "updated_at": at,
    })
    definition = job.model_dump(mode="json")  # one object for all runs: serialised once by insert_runs
    count = len(backfill_plan.partitions)
    new_runs = [
        q.NewRun(job=job.name, queue=backfill_plan.queue, priority=backfill_plan.priority,
                 params={**backfill_plan.params, job.partition.param: key}, partition=key, definition=definition,
                 backfill_id=backfill_id, backfill_seq=seq)
        for seq, key in enumerate(backfill_plan.partitions)
    ]
    await q.ensure_queue(conn, backfill_plan.queue)
    run_ids = await q.insert_runs(conn, new_runs, at, actor)
    await q.insert_event(conn, at, EventKind.BACKFILL_CREATED, actor=actor,
                         detail=f"backfill {backfill_id}: {count} runs of {job.name}, "
                                f"{len(backfill_plan.skipped)} partitions skipped")
    return backfill_id, run_ids


async def require(conn: aiosqlite.Connection, backfill_id: int) -> Backfill:
    backfill = await q.get_backfill(conn, backfill_id)
    if backfill is None:
        raise NotFound(f"backfill {backfill_id} does not exist")
    return backfill
