"""Attempts in a pass: a launch's answer, a probe's report, and an attempt's end moving its run on."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..executor import LaunchRequest, TargetUnavailable
from ..jobspec import job_script
from ..models import Attempt, Run
from ..monitor import ProbeOutcome, record_output
from ..outcomes import AttemptEnd, classify_exit, decide
from ..secrets import SecretMissing, read_secrets
from ..shellwords import CommandSyntaxError
from ..states import ENDED, AttemptStatus, BackfillStatus, EndReason, EventKind, RunStatus
from ..store import queries as q
from . import activity
from .context import ACTOR, PassContext
from .inbox import LaunchDone
from .quarantine import count_ending


async def apply_launch(p: PassContext, item: LaunchDone) -> None:
    memory = p.memory
    memory.launching.discard(item.attempt_id)
    attempt = memory.active.get(item.attempt_id)
    if attempt is None:
        return
    if item.launched is not None:
        launched = item.launched
        await q.transition_attempt(p.conn, attempt.id, AttemptStatus.RUNNING, pid=launched.pid,
                                   pid_start=launched.pid_start)
        memory.active[attempt.id] = replace(attempt, status=AttemptStatus.RUNNING.value, pid=launched.pid,
                                            pid_start=launched.pid_start)
        memory.maybe_sent.discard(attempt.id)
        detail = f"on {attempt.node}, pid {launched.pid}"
        if launched.existing:
            detail += " (re-attached to the launch made before a restart)"
        await q.insert_event(p.conn, p.at, EventKind.ATTEMPT_STARTED, run_id=attempt.run_id, attempt=attempt.number,
                             actor=ACTOR, detail=detail)
        return
    error = item.error
    maybe_sent = isinstance(error, TargetUnavailable) and (error.sent or attempt.id in memory.maybe_sent)
    await activity.launch_error(p, attempt, error, maybe_sent)
    if maybe_sent:
        # It may have started: re-launch (idempotently) once the node answers, or lose it with the lease.
        memory.maybe_sent.add(attempt.id)
        return
    if isinstance(error, TargetUnavailable):
        await end_attempt(p, attempt, AttemptEnd(AttemptStatus.FAILED, EndReason.NOT_SENT, None, str(error)))
        return
    await end_attempt(p, attempt, AttemptEnd(AttemptStatus.FAILED, EndReason.LAUNCH_FAILED, None, str(error)))


async def apply_probe(p: PassContext, outcome: ProbeOutcome) -> None:
    attempt = p.memory.active.get(outcome.attempt.id)
    if attempt is None or attempt.id in p.memory.launching:
        return
    if (attempt.stdout_offset, attempt.stderr_offset) != (outcome.attempt.stdout_offset, outcome.attempt.stderr_offset):
        return  # a report from before offsets this loop already committed: the next probe reads from there
    if outcome.changed or outcome.progress or outcome.checkpoints:
        await record_output(p.conn, outcome, p.at)
        attempt = replace(attempt, stdout_offset=outcome.stdout_offset, stderr_offset=outcome.stderr_offset,
                          parsed_offset=outcome.parsed_offset, log_error=outcome.log_error,
                          log_stalled_at=outcome.stalled_at)
        p.memory.active[attempt.id] = attempt
        if outcome.stall_began and not outcome.log_error:
            p.effects.stalls_ended.append(attempt.id)
        p.effects.progressed = True
    state = outcome.report.state
    if outcome.complete:
        run = await q.get_run(p.conn, attempt.run_id)
        assert run is not None
        code = int(run.definition.get("checkpoint_exit_code", 85))
        checkpointed = bool(outcome.checkpoints) or await q.attempt_has_checkpoint(p.conn, attempt.run_id,
                                                                                   attempt.number)
        await end_attempt(p, attempt, classify_exit(attempt, outcome.report, code, checkpointed), run)
    elif state == "vanished":
        await end_attempt(p, attempt, AttemptEnd(
            AttemptStatus.LOST, EndReason.VANISHED, None,
            "the job's process is gone and left no exit code (was the worker rebooted?)"))
    elif state == "missing" and attempt.status == AttemptStatus.RUNNING:
        await end_attempt(p, attempt, AttemptEnd(
            AttemptStatus.LOST, EndReason.VANISHED, None, f"attempt folder {attempt.remote_dir} vanished"))
    elif state == "missing":
        await queue_relaunch(p, attempt)


async def queue_relaunch(p: PassContext, attempt: Attempt) -> None:
    """Launch a starting attempt again after commit: the launch is idempotent (the attempt folder is the token)."""
    memory = p.memory
    if attempt.id in memory.launching or memory.relaunch_after.get(attempt.id, 0.0) > p.loop_now:
        return
    run = await q.get_run(p.conn, attempt.run_id)
    assert run is not None
    memory.launching.add(attempt.id)
    memory.relaunch_after[attempt.id] = p.loop_now + p.settings.poll_interval
    try:
        script = job_script(run, attempt.number, attempt.checkpoint_in)
        request = LaunchRequest(attempt.remote_dir, script, read_secrets(run.definition))
    except (SecretMissing, CommandSyntaxError):
        # The job may run there already; it must never start without its secrets (or with a command this
        # Sluice refuses): re-attach only.
        request = LaunchRequest(attempt.remote_dir, b"", start=False)
    await activity.relaunched(p, attempt, request.start)
    p.effects.launches.append((attempt, request))


async def relaunch_starting(p: PassContext, reachable: set[str]) -> None:
    """Starting attempts with no launch out (after a restart, or one that may have been sent) on nodes that answer."""
    for attempt in list(p.memory.active.values()):
        if (attempt.status == AttemptStatus.STARTING and attempt.id not in p.memory.launching
                and attempt.node in reachable):
            await queue_relaunch(p, attempt)


#: Endings that count as strikes against a run, and which of them count together.
STRIKE_GROUPS = {EndReason.LAUNCH_FAILED: {EndReason.LAUNCH_FAILED},
                 EndReason.NODE_LOST: {EndReason.NODE_LOST, EndReason.VANISHED},
                 EndReason.VANISHED: {EndReason.NODE_LOST, EndReason.VANISHED}}


async def _strikes(p: PassContext, run_id: int, reason: EndReason) -> int:
    """Endings of `reason`'s group in a row at the end of the run's attempt history."""
    group = {member.value for member in STRIKE_GROUPS.get(reason, set())}
    if not group:
        return 0
    count = 0
    for attempt in reversed(await q.attempts_for_run(p.conn, run_id)):
        if attempt.reason not in group:
            break
        count += 1
    return count


async def end_attempt(p: PassContext, attempt: Attempt, end: AttemptEnd, run: Run | None = None) -> None:
    """Close the attempt and move its run on, in the pass's transaction."""
    await activity.end_probe_streak(p, attempt, "the attempt ended")
    await q.transition_attempt(p.conn, attempt.id, end.status, reason=end.reason, exit_code=end.exit_code,
                               error=end.error, ended_at=p.at)
    memory = p.memory
    memory.active.pop(attempt.id, None)
    for held in (memory.hard_killed, memory.maybe_sent, memory.launching):
        held.discard(attempt.id)
    memory.relaunch_after.pop(attempt.id, None)
    memory.timeouts.pop(attempt.run_id, None)
    p.effects.progressed = True
    await count_ending(p, attempt, end)
    run = run or await q.get_run(p.conn, attempt.run_id)
    assert run is not None
    if run.status != RunStatus.RUNNING or run.attempt != attempt.number:
        return
    strikes = await _strikes(p, run.id, end.reason)
    backfill = await q.get_backfill(p.conn, run.backfill_id) if run.backfill_id is not None else None
    decision = decide(run, end, p.now, p.rng, strikes,
                      backfill is not None and backfill.status == BackfillStatus.CANCELLED)
    fields: dict[str, Any] = {"exit_code": end.exit_code, "next_attempt_at": decision.next_attempt_at,
                              "cancel_requested": None}
    if decision.consumes:
        fields["attempts_used"] = run.attempts_used + 1
    if decision.target in ENDED:
        fields["ended_at"] = p.at
    detail = decision.detail + (f" ({end.error})" if end.error and end.error not in decision.detail else "")
    await q.transition_run(p.conn, run.id, decision.target, p.at, kind=EventKind.ATTEMPT_ENDED, actor=ACTOR,
                           detail=detail, on_attempt=attempt.number, **fields)
