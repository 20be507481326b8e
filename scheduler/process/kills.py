"""Kills in a pass: TERM for cancel requests, timeouts and drain deadlines; KILL once the grace period is over."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from ..models import Attempt, Run, from_iso
from ..states import AttemptStatus, EventKind, KillReason
from ..store import queries as q
from .context import ACTOR, PassContext
from .inbox import SignalOrder


async def kills(p: PassContext) -> None:
    cancels = {run.id: run for run in await q.runs_with_cancel_requested(p.conn)}
    deadlines = {state.name: from_iso(state.drain_deadline) for state in await q.node_states(p.conn)
                 if state.drained and state.drain_deadline}
    for attempt in list(p.memory.active.values()):
        if attempt.status != AttemptStatus.RUNNING:
            continue
        reason = _kill_reason(attempt, cancels, p.memory.timeouts, p.now)
        deadline = deadlines.get(attempt.node)
        if reason is None and deadline is not None and p.now >= deadline:
            reason = KillReason.DRAINED
        if reason and attempt.kill_reason is None:
            await _term(p, attempt, reason, cancels.get(attempt.run_id))
        elif attempt.kill_signal_at and attempt.id not in p.memory.hard_killed:
            await _kill_after_grace(p, attempt)


async def _term(p: PassContext, attempt: Attempt, reason: KillReason, run: Run | None) -> None:
    await q.update_attempt(p.conn, attempt.id, kill_reason=reason, kill_signal_at=p.at)
    detail = f"TERM sent ({reason})"
    if run and run.cancel_requested and reason == KillReason.CANCELLED:
        detail += f" requested by {run.cancel_requested.get('by')}"
    await q.insert_event(p.conn, p.at, EventKind.KILL, run_id=attempt.run_id, attempt=attempt.number, actor=ACTOR,
                         detail=detail)
    p.memory.active[attempt.id] = replace(attempt, kill_reason=reason, kill_signal_at=p.at)
    p.effects.signal(attempt.node, SignalOrder("TERM", [attempt.remote_dir], attempt_ids=[attempt.id]))
    p.effects.progressed = True


async def _kill_after_grace(p: PassContext, attempt: Attempt) -> None:
    run = await q.get_run(p.conn, attempt.run_id)
    grace = float((run.definition if run else {}).get("kill_grace", 30.0))
    started = from_iso(attempt.kill_signal_at)
    if started and p.now - started >= timedelta(seconds=grace):
        p.memory.hard_killed.add(attempt.id)
        await q.insert_event(p.conn, p.at, EventKind.KILL, run_id=attempt.run_id, attempt=attempt.number,
                             actor=ACTOR, detail=f"KILL sent after a grace period of {grace:g}s")
        p.effects.signal(attempt.node, SignalOrder("KILL", [attempt.remote_dir], attempt_ids=[attempt.id]))
        p.effects.progressed = True


def _kill_reason(attempt: Attempt, cancels: dict[int, Run], timeouts: dict[int, float],
                 now: datetime) -> KillReason | None:
    if attempt.run_id in cancels:
        return KillReason.CANCELLED
    timeout = timeouts.get(attempt.run_id)
    started = from_iso(attempt.started_at)
    if timeout and started and now - started >= timedelta(seconds=timeout):
        return KillReason.TIMEOUT
    return None


def resend_term_after_restart(attempt: Attempt, run: Run, now: datetime) -> SignalOrder | None:
    """The TERM recorded before a stop may never have left: send it again while the grace lasts."""
    if not attempt.kill_signal_at or attempt.status != AttemptStatus.RUNNING:
        return None
    started = from_iso(attempt.kill_signal_at)
    grace = float(run.definition.get("kill_grace", 30.0))
    if started and now - started < timedelta(seconds=grace):
        return SignalOrder("TERM", [attempt.remote_dir], attempt_ids=[attempt.id])
    return None
