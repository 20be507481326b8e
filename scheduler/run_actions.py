"""An operator's cancel and retry of one run, inside the caller's write transaction (a bulk action or a backfill
is one transaction). Each records the operator as the event's actor and their --reason, if any."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .states import ENDED, WAITING, EventKind, RunStatus
from .store import queries as q


@dataclass(frozen=True)
class ActionResult:
    run_id: int
    ok: bool
    message: str
    #: A retry that queued again a run that had succeeded (the operator asked for it).
    rerun_succeeded: bool = False


def because(detail: str | None, reason: str | None) -> str | None:
    """An event's detail with the operator's reason after it, for people who read the log rather than --json."""
    if not reason:
        return detail
    return f"{detail}: {reason}" if detail else reason


async def cancel_one(conn: Any, run_id: int, now: str, actor: str, reason: str | None, kill: bool,
                     detail: str | None = None) -> ActionResult:
    """Cancel a waiting run at once, or ask the scheduler to kill a running one (unless not `kill`)."""
    run = await q.get_run(conn, run_id)
    if run is None:
        return ActionResult(run_id, False, f"run {run_id} does not exist")
    detail = detail or reason
    if run.status in WAITING:
        await q.transition_run(conn, run_id, RunStatus.CANCELLED, now, kind=EventKind.CANCELLED, actor=actor,
                               detail=detail, reason=reason, ended_at=now, next_attempt_at=None)
        return ActionResult(run_id, True, f"run {run_id} cancelled")
    if run.status == RunStatus.RUNNING:
        if not kill:
            return ActionResult(run_id, False, f"run {run_id} is running; left to finish")
        request = json.dumps({"by": actor, "reason": detail, "at": now})
        await q.update_run_fields(conn, run_id, now, cancel_requested=request)
        await q.insert_event(conn, now, EventKind.CANCEL_REQUESTED, run_id=run_id, attempt=run.attempt, actor=actor,
                             detail=detail, reason=reason)
        return ActionResult(run_id, True, f"run {run_id} is running: kill requested")
    return ActionResult(run_id, False, f"run {run_id} has already ended ({run.status})")


async def retry_one(conn: Any, run_id: int, now: str, actor: str, from_scratch: bool,
                    reason: str | None, rerun_succeeded: bool = True) -> ActionResult:
    """Queue a new attempt of an ended run, from its latest checkpoint unless `from_scratch`; a succeeded run
    only when `rerun_succeeded`."""
    run = await q.get_run(conn, run_id)
    if run is None:
        return ActionResult(run_id, False, f"run {run_id} does not exist")
    if run.status not in ENDED:
        return ActionResult(run_id, False, f"run {run_id} is {run.status}; only ended runs retry")
    again = run.status == RunStatus.SUCCEEDED
    if again and not rerun_succeeded:
        return ActionResult(run_id, False, f"run {run_id} already succeeded; not run again")
    floor = await q.max_checkpoint_id(conn, run_id) if from_scratch else run.checkpoint_floor
    detail = "from scratch" if from_scratch else "from the latest checkpoint, if any"
    await q.transition_run(conn, run_id, RunStatus.QUEUED, now, kind=EventKind.RETRY, actor=actor,
                           detail=because(detail, reason), reason=reason, attempts_used=0, checkpoint_floor=floor,
                           ended_at=None, exit_code=None, cancel_requested=None)
    queued = f"queued for attempt {run.attempt + 1}"
    if again:
        return ActionResult(run_id, True, f"run {run_id} already succeeded; running it again: {queued}", True)
    return ActionResult(run_id, True, f"run {run_id} {queued}")
