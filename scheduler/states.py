"""Every vocabulary Sluice stores or shows, written once: run, attempt and backfill statuses with their
transition tables (the store enforces them with guarded updates), why attempts end and are killed, node states,
event kinds, and the named groups of them. The store, the engine and the console import these; nobody
re-types the strings. The values are what the store holds and `--json` prints: never change one."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

E = TypeVar("E", bound=StrEnum)


class RunStatus(StrEnum):
    #: Waiting for a slot (or held by a queue, backfill or upstream dependency).
    QUEUED = "queued"
    #: An attempt is on a worker (being launched, running, or being killed).
    RUNNING = "running"
    #: The last attempt failed and another is due after a backoff delay.
    RETRY_WAIT = "retry_wait"
    #: The last attempt exited 0.
    SUCCEEDED = "succeeded"
    #: Attempts exhausted or the exit code is not retryable: a dead letter.
    FAILED = "failed"
    #: An operator (or a backfill cancel) stopped it.
    CANCELLED = "cancelled"
    #: The last attempt ran past the job's timeout and no attempt is left: a dead letter.
    TIMED_OUT = "timed_out"


class AttemptStatus(StrEnum):
    #: Recorded before the launch command is sent; the launch is idempotent, so a crash here is safe.
    STARTING = "starting"
    #: The worker reported a live process.
    RUNNING = "running"
    #: Exited 0.
    SUCCEEDED = "succeeded"
    #: Exited non-zero, or could not be launched.
    FAILED = "failed"
    #: Killed on an operator's request.
    CANCELLED = "cancelled"
    #: Killed because it ran past the job's timeout.
    TIMED_OUT = "timed_out"
    #: The node stopped answering for longer than the lease, or the job's process vanished.
    LOST = "lost"
    #: Exited with the checkpoint exit code: the run continues from its checkpoint.
    YIELDED = "yielded"
    #: Killed to free its node (a drain deadline passed): the run continues elsewhere from its checkpoint.
    PREEMPTED = "preempted"


class EndReason(StrEnum):
    """Why an attempt ended (the attempt's `reason`)."""

    #: The job exited by itself (with any exit code), or its exit code file is unreadable.
    EXIT = "exit"
    #: Killed after the job's timeout.
    TIMEOUT = "timeout"
    #: Killed on an operator's request.
    CANCELLED = "cancelled"
    #: Its node did not answer for longer than the attempt's lease: given up, fenced if the node comes back.
    NODE_LOST = "node_lost"
    #: The node answered, but the launch failed there.
    LAUNCH_FAILED = "launch_failed"
    #: The launch never left the bastion (no connection): the run is queued again without a strike.
    NOT_SENT = "not_sent"
    #: The node answered but the job's process was gone without an exit code.
    VANISHED = "vanished"
    #: Exited with the checkpoint exit code after writing a checkpoint.
    CHECKPOINT_YIELD = "checkpoint_yield"
    #: Killed when its node's drain deadline passed.
    PREEMPTED = "preempted"


class KillReason(StrEnum):
    """Why the scheduler signalled an attempt (the attempt's `kill_reason`)."""

    #: An operator cancelled its run.
    CANCELLED = "cancelled"
    #: It ran past the job's timeout.
    TIMEOUT = "timeout"
    #: Its node's drain deadline passed: it is preempted.
    DRAINED = "drained"
    #: Given up while its node was unreachable, and killed once the node answered again.
    FENCED = "fenced"


class BackfillStatus(StrEnum):
    #: Its runs are dispatched, within its max-parallel and canary.
    ACTIVE = "active"
    #: An operator paused it: none of its queued runs starts until it is resumed.
    PAUSED = "paused"
    #: An operator cancelled it: its waiting runs were cancelled.
    CANCELLED = "cancelled"
    #: Every one of its runs has ended.
    DONE = "done"


class NodeState(StrEnum):
    """A node as the store records its connection (`nodes.state`: the first four) and as it is shown."""

    #: Not checked yet since the scheduler started.
    UNKNOWN = "unknown"
    #: Answers commands.
    UP = "up"
    #: Cannot be reached (no connection, or it dropped).
    DOWN = "down"
    #: Reached, but refused us: host key, login, identity file, or a worker Sluice cannot use.
    REFUSED = "refused"
    #: Shown only: an operator drained it, so no new run goes there.
    DRAINED = "drained"
    #: Shown only: infrastructure failures in a row; no new run goes there until a health check passes.
    QUARANTINED = "quarantined"


class EventKind(StrEnum):
    """What each event records (the events table's `kind`), one fact per kind."""

    #: A run was created (by an operator, a backfill or a schedule tick), queued.
    SUBMITTED = "submitted"
    #: A queued run got an attempt on a node.
    DISPATCHED = "dispatched"
    #: A queued run failed without starting: a secret cannot be read or its command is refused.
    DISPATCH_REFUSED = "dispatch_refused"
    #: The worker reported the attempt's process (or it was re-attached after a restart).
    ATTEMPT_STARTED = "attempt_started"
    #: An attempt ended and moved its run on (retry, dispatch again, or an end).
    ATTEMPT_ENDED = "attempt_ended"
    #: A run's backoff is over: it is queued for its next attempt.
    RETRY_DUE = "retry_due"
    #: An operator cancelled a waiting run.
    CANCELLED = "cancelled"
    #: An operator asked for a running run to be killed.
    CANCEL_REQUESTED = "cancel_requested"
    #: An operator queued an ended run again.
    RETRY = "retry"
    #: The scheduler sent TERM (cancel, timeout, drain deadline) or, after the grace period, KILL.
    KILL = "kill"
    #: A stale attempt on a node that answers again was killed (its run had been dispatched again).
    FENCED = "fenced"
    #: An operator changed a run's priority.
    PRIORITY = "priority"
    #: An operator drained a node, maybe with a deadline.
    DRAIN = "drain"
    #: An operator undrained a node.
    UNDRAIN = "undrain"
    #: An operator paused a queue.
    PAUSE = "pause"
    #: An operator resumed a queue.
    RESUME = "resume"
    #: A node answers again (or for the first time).
    NODE_UP = "node_up"
    #: A node cannot be reached.
    NODE_DOWN = "node_down"
    #: A node refused the scheduler (host key, login, identity file, unusable worker).
    NODE_REFUSED = "node_refused"
    #: A node's unknown host key was trusted on first use (host_key = "accept-new") and added to known_hosts.
    HOST_KEY_ACCEPTED = "host_key_accepted"
    #: A node takes no new work after infrastructure failures in a row.
    NODE_QUARANTINED = "node_quarantined"
    #: A node's quarantine was lifted (a health check passed, or an undrain).
    NODE_UNQUARANTINED = "node_unquarantined"
    #: A node gone from nodes.toml still has attempts: it is watched until they end, with no new work.
    NODE_RETIRED = "node_retired"
    #: A node answered a probe without a report (recorded once per distinct message).
    PROBE_FAILED = "probe_failed"
    #: A node's probes succeed again, or it has no attempt left to probe.
    PROBE_RECOVERED = "probe_recovered"
    #: A scheduler started on this home.
    SCHEDULER_STARTED = "scheduler_started"
    #: A scheduler stopped; its jobs keep running on the workers.
    SCHEDULER_STOPPED = "scheduler_stopped"
    #: A scheduler pass failed (once per distinct error); its work is retried.
    SCHEDULER_ERROR = "scheduler_error"
    #: The store was locked by another connection for a while; the scheduler waited and lost nothing.
    STORE_BUSY = "store_busy"
    #: The job files cannot be loaded, or a job's schedule cannot be evaluated (once per distinct message).
    CONFIG_ERROR = "config_error"
    #: A backfill and its runs were created.
    BACKFILL_CREATED = "backfill_created"
    #: An operator paused a backfill.
    BACKFILL_PAUSED = "backfill_paused"
    #: An operator resumed a backfill (which also releases its canary hold).
    BACKFILL_RESUMED = "backfill_resumed"
    #: An operator changed a backfill's max-parallel.
    BACKFILL_THROTTLED = "backfill_throttled"
    #: An operator cancelled a backfill.
    BACKFILL_CANCELLED = "backfill_cancelled"
    #: An operator queued a backfill's unsuccessful runs again.
    BACKFILL_RETRY_FAILED = "backfill_retry_failed"
    #: Every run of a backfill has ended.
    BACKFILL_DONE = "backfill_done"
    #: A log file on the bastion was found shorter than its recorded offset; the gap was filled in.
    LOG_GAP = "log_gap"
    #: Log capture on the bastion began failing; the worker keeps the bytes.
    LOG_CAPTURE_STALLED = "log_capture_stalled"
    #: Log capture works again after a stall, and no byte was lost.
    LOG_CAPTURE_RESUMED = "log_capture_resumed"
    #: A launch try of an attempt came back with the node's error: the attempt failed (the detail has the error).
    LAUNCH_FAILED = "launch_failed"
    #: A launch try never left the bastion, or the node refused us: the attempt ends without a strike.
    LAUNCH_NOT_SENT = "launch_not_sent"
    #: A launch try may have reached the worker but gave no answer: the attempt stays starting and is tried again.
    LAUNCH_UNCONFIRMED = "launch_unconfirmed"
    #: A starting attempt's launch was sent again (after a restart or an unconfirmed try); it re-attaches if it runs.
    RELAUNCHED = "relaunched"
    #: A probe of a running attempt failed: once per distinct message in a row, not once per poll.
    ATTEMPT_PROBE_FAILED = "attempt_probe_failed"
    #: An attempt's failing probes stopped (a probe answered, failed otherwise, or the attempt ended): how many.
    ATTEMPT_PROBE_FAILURES_ENDED = "attempt_probe_failures_ended"
    #: A TERM or KILL reached the attempt's node.
    SIGNAL_DELIVERED = "signal_delivered"
    #: A TERM or KILL could not be sent to the attempt's node (once per distinct error); it is sent again.
    SIGNAL_FAILED = "signal_failed"
    #: An ended attempt's folder was removed from its node after the retention.
    FOLDER_REMOVED = "folder_removed"


class ActivityAction(StrEnum):
    """What an attempt's activity entry is about (the run detail's Activity tab, `sluice activity`)."""

    #: A launch try of the attempt, and its answer.
    LAUNCH = "launch"
    #: A probe of the running attempt that failed.
    PROBE = "probe"
    #: A TERM or KILL for the attempt, and whether it reached the node.
    SIGNAL = "signal"
    #: The stale attempt was killed when its node came back.
    FENCE = "fence"
    #: The attempt ended and moved its run on.
    END = "end"
    #: The attempt's folder on its node was removed.
    CLEANUP = "cleanup"


# --- named groups ------------------------------------------------------------------------------------------

S = RunStatus


def ordered(group: frozenset[E]) -> tuple[E, ...]:
    """A group's members in the order their enum lists them: SQL and screens read the same on every run
    (a frozenset of strings iterates in an order that changes with each process's hash seed)."""
    if not group:
        return ()
    kind = type(next(iter(group)))
    return tuple(member for member in kind if member in group)


#: A run in one of these has ended; only an operator retry moves it again.
ENDED: frozenset[RunStatus] = frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED, S.TIMED_OUT})
#: The same set under its older name (console/ imports it).
TERMINAL = ENDED
#: A run in one of these waits for a slot or its backoff: a cancel ends it at once.
WAITING: frozenset[RunStatus] = frozenset({S.QUEUED, S.RETRY_WAIT})
#: A run in one of these holds a slot on a node.
ACTIVE: frozenset[RunStatus] = frozenset({S.RUNNING})
#: Runs that failed for good: the dead letters an operator looks at.
DEAD_LETTERS: frozenset[RunStatus] = frozenset({S.FAILED, S.TIMED_OUT})
#: Runs that ended without success: what a backfill's retry of its failed runs queues again.
UNSUCCESSFUL: frozenset[RunStatus] = ENDED - {S.SUCCEEDED}

#: Attempts in one of these are out on a node and use one of its slots.
ATTEMPT_ACTIVE: frozenset[AttemptStatus] = frozenset({AttemptStatus.STARTING, AttemptStatus.RUNNING})
#: Attempt statuses after which the attempt is over.
ATTEMPT_ENDED: frozenset[AttemptStatus] = frozenset(set(AttemptStatus) - ATTEMPT_ACTIVE)

#: Endings that are the node's fault, not the job's: in a row on one node, they quarantine it.
INFRA_FAILURES: frozenset[EndReason] = frozenset(
    {EndReason.LAUNCH_FAILED, EndReason.NOT_SENT, EndReason.VANISHED, EndReason.NODE_LOST})

#: A backfill in one of these still holds its runs to its limits and takes an operator's changes.
BACKFILL_OPEN: frozenset[BackfillStatus] = frozenset({BackfillStatus.ACTIVE, BackfillStatus.PAUSED})
#: A backfill in one of these is over: only a retry of its failed runs moves it again.
BACKFILL_ENDED: frozenset[BackfillStatus] = frozenset({BackfillStatus.CANCELLED, BackfillStatus.DONE})

Act = ActivityAction
K = EventKind
#: The events that make up an attempt's activity (Cylc's job-activity.log), each as (action, outcome).
ATTEMPT_ACTIVITY: dict[EventKind, tuple[ActivityAction, str]] = {
    K.DISPATCHED: (Act.LAUNCH, "sent"),
    K.RELAUNCHED: (Act.LAUNCH, "sent again"),
    K.ATTEMPT_STARTED: (Act.LAUNCH, "started"),
    K.LAUNCH_FAILED: (Act.LAUNCH, "failed"),
    K.LAUNCH_NOT_SENT: (Act.LAUNCH, "not sent"),
    K.LAUNCH_UNCONFIRMED: (Act.LAUNCH, "unconfirmed"),
    K.ATTEMPT_PROBE_FAILED: (Act.PROBE, "failing"),
    K.ATTEMPT_PROBE_FAILURES_ENDED: (Act.PROBE, "failures over"),
    K.KILL: (Act.SIGNAL, "ordered"),
    K.SIGNAL_DELIVERED: (Act.SIGNAL, "delivered"),
    K.SIGNAL_FAILED: (Act.SIGNAL, "failed"),
    K.FENCED: (Act.FENCE, "killed"),
    K.ATTEMPT_ENDED: (Act.END, "ended"),
    K.FOLDER_REMOVED: (Act.CLEANUP, "removed"),
}

#: Nodes in one of these do not answer: their attempts' leases run.
UNREACHABLE: frozenset[NodeState] = frozenset({NodeState.DOWN, NodeState.REFUSED})
#: The event recorded when a node's connection changes to each state (a link never goes back to unknown).
NODE_EVENTS: dict[str, EventKind] = {
    NodeState.UP: EventKind.NODE_UP, NodeState.DOWN: EventKind.NODE_DOWN, NodeState.REFUSED: EventKind.NODE_REFUSED,
}


# --- transition tables -------------------------------------------------------------------------------------

#: Every allowed (from, to) transition of a run, with the action that causes it.
TRANSITIONS: dict[tuple[RunStatus, RunStatus], str] = {
    (S.QUEUED, S.RUNNING): "dispatch",
    (S.QUEUED, S.CANCELLED): "cancel",
    (S.QUEUED, S.FAILED): "dispatch refused: a secret of the job cannot be read, or its command is refused",
    (S.RUNNING, S.SUCCEEDED): "attempt exited 0",
    (S.RUNNING, S.FAILED): "attempt failed, no retry left",
    (S.RUNNING, S.TIMED_OUT): "attempt timed out, no retry left",
    (S.RUNNING, S.CANCELLED): "attempt killed on request",
    (S.RUNNING, S.RETRY_WAIT): "attempt failed, retry after backoff",
    (S.RUNNING, S.QUEUED): "node lost, launch failed or checkpoint yield: dispatch again",
    (S.RETRY_WAIT, S.QUEUED): "backoff elapsed",
    (S.RETRY_WAIT, S.CANCELLED): "cancel",
    (S.SUCCEEDED, S.QUEUED): "operator retry",
    (S.FAILED, S.QUEUED): "operator retry",
    (S.CANCELLED, S.QUEUED): "operator retry",
    (S.TIMED_OUT, S.QUEUED): "operator retry",
}

A = AttemptStatus

#: Every allowed (from, to) transition of an attempt, with what causes it. An attempt is created starting,
#: and an ended one never changes status again (fencing and cleanup change other fields).
ATTEMPT_TRANSITIONS: dict[tuple[AttemptStatus, AttemptStatus], str] = {
    (A.STARTING, A.RUNNING): "the launch answered with the job's process",
    (A.STARTING, A.FAILED): "the launch failed on the node, or never left the bastion",
    (A.STARTING, A.LOST): "its node did not answer past the lease while the launch may have been sent",
    (A.RUNNING, A.SUCCEEDED): "exited 0",
    (A.RUNNING, A.FAILED): "exited non-zero, or left an unreadable exit code",
    (A.RUNNING, A.CANCELLED): "exited after a kill on an operator's request",
    (A.RUNNING, A.TIMED_OUT): "exited after a kill for the job's timeout",
    (A.RUNNING, A.LOST): "its node did not answer past the lease, or its process vanished",
    (A.RUNNING, A.YIELDED): "exited with the checkpoint exit code after a checkpoint",
    (A.RUNNING, A.PREEMPTED): "exited after a kill at its node's drain deadline",
}

B = BackfillStatus

#: Every allowed (from, to) transition of a backfill, with what causes it. A backfill is created active;
#: actions that keep its status (resume an active one to release its canary, pause a paused one) change no status.
BACKFILL_TRANSITIONS: dict[tuple[BackfillStatus, BackfillStatus], str] = {
    (B.ACTIVE, B.PAUSED): "operator pause",
    (B.ACTIVE, B.CANCELLED): "operator cancel",
    (B.ACTIVE, B.DONE): "every run has ended",
    (B.PAUSED, B.ACTIVE): "operator resume, or a retry of its failed runs",
    (B.PAUSED, B.CANCELLED): "operator cancel",
    (B.DONE, B.ACTIVE): "operator retry of its failed runs",
    (B.CANCELLED, B.ACTIVE): "operator retry of its failed runs",
}

Status = TypeVar("Status", bound=StrEnum)


def sources_of(table: Mapping[tuple[Status, Status], str], target: Status) -> tuple[Status, ...]:
    """Statuses from which `table` allows `target`, for a guarded UPDATE ... WHERE status IN (...)."""
    return tuple(source for (source, goal) in table if goal == target)
