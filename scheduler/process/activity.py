"""An attempt's activity in a pass (Cylc's job-activity.log): each launch try's answer, failing probes, signals
that reached the node or not, folder removal. Each is an event with the run and attempt, written in the same
transaction as the outcome it describes; repeated probe failures are counted in memory, never a row per poll."""

from __future__ import annotations

from collections.abc import Sequence

from ..executor import TargetUnavailable
from ..models import Attempt
from ..states import EventKind
from ..store import queries as q
from .context import ACTOR, PassContext
from .inbox import CleanupDone, InboxItem, ProbeDone, ProbeFailed, SignalSent
from .memory import ProbeStreak


async def record(p: PassContext, attempt: Attempt, kind: EventKind, detail: str) -> None:
    await q.insert_event(
        p.conn, p.at, kind, run_id=attempt.run_id, attempt=attempt.number, actor=ACTOR, detail=detail
    )
    p.effects.progressed = True


async def launch_error(p: PassContext, attempt: Attempt, error: Exception | None, maybe_sent: bool) -> None:
    """The failed launch try, before the attempt's end (if any) that it causes."""
    message = str(error) or type(error).__name__
    # The executor's messages name the node already.
    if isinstance(error, TargetUnavailable) and maybe_sent:
        again = "sent again once the node answers (it re-attaches if the job runs)"
        await record(p, attempt, EventKind.LAUNCH_UNCONFIRMED, f"{message}; {again}")
    elif isinstance(error, TargetUnavailable):
        how = "refused" if error.refused else "never left the bastion"
        await record(p, attempt, EventKind.LAUNCH_NOT_SENT, f"{how}: {message}")
    else:
        await record(p, attempt, EventKind.LAUNCH_FAILED, message)


async def relaunched(p: PassContext, attempt: Attempt, start: bool) -> None:
    how = "" if start else " to re-attach only (its secrets or command cannot be read now: never a start)"
    await record(p, attempt, EventKind.RELAUNCHED, f"launch sent again to {attempt.node}{how}")


async def apply_probe_activity(p: PassContext, items: Sequence[InboxItem]) -> None:
    """A failed probe starts a streak for each attempt it asked about; a probe that answers ends them."""
    for item in items:
        if isinstance(item, ProbeFailed):
            for attempt_id in item.attempt_ids:
                await _probe_failed(p, attempt_id, item.message)
        elif isinstance(item, ProbeDone):
            for attempt, _ in item.reports:
                await end_probe_streak(p, attempt, "a probe answered again")


async def _probe_failed(p: PassContext, attempt_id: int, message: str) -> None:
    attempt = p.memory.active.get(attempt_id)
    if attempt is None:
        return
    streak = p.memory.probe_streaks.get(attempt_id)
    if streak is not None and streak.message == message:
        p.memory.probe_streaks[attempt_id] = ProbeStreak(message, streak.count + 1, streak.first_at, p.at)
        return  # the same fault again: counted, not recorded
    await end_probe_streak(p, attempt, "its probes failed otherwise")
    await record(p, attempt, EventKind.ATTEMPT_PROBE_FAILED, message)
    p.memory.probe_streaks[attempt_id] = ProbeStreak(message, 1, p.at, p.at)


async def end_probe_streak(p: PassContext, attempt: Attempt, why: str) -> None:
    streak = p.memory.probe_streaks.pop(attempt.id, None)
    if streak is None:
        return
    times = "once" if streak.count == 1 else f"{streak.count} times"
    await record(
        p,
        attempt,
        EventKind.ATTEMPT_PROBE_FAILURES_ENDED,
        f"{why}; failed {times} from {streak.first_at} to {streak.last_at}: {streak.message}",
    )


async def apply_signal_sent(p: PassContext, item: SignalSent) -> None:
    for attempt_id in item.attempt_ids:
        attempt = await q.get_attempt(p.conn, attempt_id)
        if attempt is None:
            continue
        if item.error is None:
            await record(p, attempt, EventKind.SIGNAL_DELIVERED, f"{item.signal} reached {item.node}")
        else:
            await record(
                p,
                attempt,
                EventKind.SIGNAL_FAILED,
                f"{item.signal} not sent to {item.node}: {item.error}; sent again",
            )


async def folders_removed(p: PassContext, item: CleanupDone) -> None:
    for attempt_id in item.attempt_ids:
        attempt = await q.get_attempt(p.conn, attempt_id)
        if attempt is not None:
            await record(
                p, attempt, EventKind.FOLDER_REMOVED, f"{attempt.remote_dir} removed from {item.node}"
            )
