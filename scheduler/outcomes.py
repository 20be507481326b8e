"""What happens to a run when its attempt ends: the retry policy, written once."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from .executor import ProbeReport
from .models import Attempt, Run, to_iso
from .states import WAITING, AttemptStatus, EndReason, KillReason, RunStatus

#: Launch failures are the infrastructure's fault: retry soon, without using up an attempt...
LAUNCH_RETRY_DELAY = 5.0
#: ...but not forever: after this many in a row the run fails loudly instead of looping.
MAX_LAUNCH_FAILURES = 3
#: A job that takes its worker down with it must not walk the whole fleet: node losses in a row are capped too.
MAX_NODE_LOSSES = 3


@dataclass(frozen=True)
class AttemptEnd:
    status: AttemptStatus
    reason: EndReason
    exit_code: int | None
    error: str | None = None


@dataclass(frozen=True)
class RunDecision:
    target: RunStatus
    consumes: bool
    next_attempt_at: str | None
    detail: str


def classify_exit(attempt: Attempt, report: ProbeReport, checkpoint_exit_code: int, checkpointed: bool) -> AttemptEnd:
    """Map a finished attempt's exit code and any pending kill onto why it ended."""
    code = report.exit_code
    if code is None:
        return AttemptEnd(AttemptStatus.FAILED, EndReason.EXIT, None,
                          "the exit code file on the worker is unreadable (did the worker crash while writing it?)")
    if code == 0:
        return AttemptEnd(AttemptStatus.SUCCEEDED, EndReason.EXIT, 0)
    if attempt.kill_reason == KillReason.TIMEOUT:
        return AttemptEnd(AttemptStatus.TIMED_OUT, EndReason.TIMEOUT, code)
    if attempt.kill_reason in (KillReason.CANCELLED, KillReason.FENCED):
        return AttemptEnd(AttemptStatus.CANCELLED, EndReason.CANCELLED, code)
    if attempt.kill_reason == KillReason.DRAINED:
        return AttemptEnd(AttemptStatus.PREEMPTED, EndReason.PREEMPTED, code, "its node was drained")
    if code == checkpoint_exit_code and checkpointed:
        return AttemptEnd(AttemptStatus.YIELDED, EndReason.CHECKPOINT_YIELD, code)
    return AttemptEnd(AttemptStatus.FAILED, EndReason.EXIT, code, _signal_note(code))


def _signal_note(code: int | None) -> str | None:
    if code is not None and code > 128:
        import signal

        try:
            return f"killed by signal {signal.Signals(code - 128).name}"
        except ValueError:
            return None
    return None


def backoff_delay(run: Run, attempts_used: int, rng: random.Random) -> float:
    """Exponential backoff from the job's initial delay, capped, with +/-25% jitter so retries do not stampede."""
    retry = run.definition.get("retry", {})
    base = float(retry.get("backoff", 10.0))
    cap = float(retry.get("max_backoff", 600.0))
    delay = min(cap, base * 2.0 ** max(0, attempts_used - 1))
    return min(cap, delay * rng.uniform(0.75, 1.25))


def decide(run: Run, end: AttemptEnd, now: datetime, rng: random.Random, strikes: int = 0,
           backfill_cancelled: bool = False) -> RunDecision:
    """The run's next status after its attempt ended as `end`; `strikes` counts the same infrastructure
    ending (launch failed, node lost) in a row, this one included. A run of a cancelled backfill gets no
    other attempt: it ends as its attempt did (failed, timed out), or cancelled when the job itself did not fail."""
    decision = _decide(run, end, now, rng, strikes)
    if not backfill_cancelled or decision.target not in WAITING:
        return decision
    why = f"backfill {run.backfill_id} was cancelled, so it is not dispatched again"
    if end.reason in (EndReason.EXIT, EndReason.TIMEOUT):
        final = RunStatus.TIMED_OUT if end.status == AttemptStatus.TIMED_OUT else RunStatus.FAILED
        return RunDecision(final, True, None, f"{_what(end)}; {why}")
    return RunDecision(RunStatus.CANCELLED, decision.consumes, None, f"attempt ended ({end.reason.value.replace('_', ' ')}); {why}")


def _decide(run: Run, end: AttemptEnd, now: datetime, rng: random.Random, strikes: int) -> RunDecision:
    retry = run.definition.get("retry", {})
    max_attempts = run.max_attempts
    used_after = run.attempts_used + 1
    if end.status == AttemptStatus.SUCCEEDED:
        return RunDecision(RunStatus.SUCCEEDED, True, None, "exit code 0")
    if end.status == AttemptStatus.CANCELLED or run.cancel_requested:
        # An operator's cancel wins over whatever else ended the attempt (node lost, timeout, yield...).
        by = (run.cancel_requested or {}).get("by")
        return RunDecision(RunStatus.CANCELLED, True, None, "cancelled" + (f" by {by}" if by else ""))
    if end.status == AttemptStatus.YIELDED:
        return RunDecision(RunStatus.QUEUED, False, None, "yielded with a checkpoint: continues from it")
    if end.status == AttemptStatus.PREEMPTED:
        return RunDecision(RunStatus.QUEUED, False, None,
                           "preempted by a node drain: continues elsewhere from its latest checkpoint")
    if end.reason == EndReason.NOT_SENT:
        return RunDecision(RunStatus.QUEUED, False, None, "the launch never reached the node: queued again")
    if end.reason == EndReason.LAUNCH_FAILED and strikes >= MAX_LAUNCH_FAILURES:
        return RunDecision(RunStatus.FAILED, True, None, f"launch failed {strikes} times in a row: {end.error}")
    if end.reason in (EndReason.NODE_LOST, EndReason.VANISHED) and strikes >= MAX_NODE_LOSSES:
        return RunDecision(RunStatus.FAILED, True, None,
                           f"its node was lost {strikes} times in a row (does the job take its worker down?)")
    if end.reason == EndReason.LAUNCH_FAILED:
        at = to_iso(now + timedelta(seconds=LAUNCH_RETRY_DELAY))
        return RunDecision(RunStatus.RETRY_WAIT, False, at, f"launch failed: {end.error}")
    if end.status == AttemptStatus.LOST and not retry.get("node_lost_consumes_attempt", False):
        return RunDecision(RunStatus.QUEUED, False, None, "node lost: dispatch again (does not use an attempt)")
    retryable = end.status in (AttemptStatus.TIMED_OUT, AttemptStatus.LOST) or _retryable_code(retry, end.exit_code)
    if retryable and used_after < max_attempts:
        delay = backoff_delay(run, used_after, rng)
        at = to_iso(now + timedelta(seconds=delay))
        return RunDecision(RunStatus.RETRY_WAIT, True, at,
                           f"attempt {run.attempt} of {run.last_attempt} ended ({_what(end)}); retry in {delay:.1f}s")
    final = RunStatus.TIMED_OUT if end.status == AttemptStatus.TIMED_OUT else RunStatus.FAILED
    why = "no attempt left" if retryable else f"exit code {end.exit_code} is not retried"
    return RunDecision(final, True, None, f"{_what(end)}; {why}")


def _retryable_code(retry: dict[str, object], code: int | None) -> bool:
    codes = retry.get("on_exit_codes")
    if codes is None:
        return code != 0
    return isinstance(codes, list | tuple | set | frozenset) and code in codes


def _what(end: AttemptEnd) -> str:
    if end.status == AttemptStatus.TIMED_OUT:
        return "timed out"
    if end.status == AttemptStatus.LOST:
        return "node lost"
    return f"exit code {end.exit_code}"
