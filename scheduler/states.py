"""The run state machine, written once as a table. The store enforces it with guarded updates."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    #: Waiting for a slot (or held by a queue, backfill or upstream dependency).
    QUEUED = "queued"
    #: An attempt is on a worker (being launched, running, or being killed).
    RUNNING = "running"
    #: The last attempt failed and another is due after a backoff delay.
    RETRY_WAIT = "retry_wait"
    #: The last attempt exited 0.
    SUCCEEDED = "succeeded"
    #: Attempts exhausted or the exit code is not retryable: the dead-letter set.
    FAILED = "failed"
    #: An operator (or a backfill cancel) stopped it.
    CANCELLED = "cancelled"
    #: The last attempt ran past the job's timeout and no attempt is left.
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
    #: The node stopped answering for longer than the heartbeat timeout.
    LOST = "lost"
    #: Exited with the checkpoint exit code: the run continues from its checkpoint.
    YIELDED = "yielded"
    #: Killed to free its node (a drain deadline passed): the run continues elsewhere from its checkpoint.
    PREEMPTED = "preempted"


class EndReason(StrEnum):
    """Why an attempt ended."""

    EXIT = "exit"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    NODE_LOST = "node_lost"
    LAUNCH_FAILED = "launch_failed"
    #: The launch never left the bastion (no connection): the run is queued again without a strike.
    NOT_SENT = "not_sent"
    #: The node answered but the job's process was gone without an exit code.
    VANISHED = "vanished"
    CHECKPOINT_YIELD = "checkpoint_yield"
    PREEMPTED = "preempted"


#: Endings that are the node's fault, not the job's: in a row on one node, they quarantine it.
INFRA_FAILURES: frozenset[EndReason] = frozenset(
    {EndReason.LAUNCH_FAILED, EndReason.NOT_SENT, EndReason.VANISHED, EndReason.NODE_LOST})

class EventKind(StrEnum):
    """Kinds of event, written once here; the older kinds still move here as their writers are touched."""

    #: A node's unknown host key was trusted on first use (host_key = "accept-new") and added to known_hosts.
    HOST_KEY_ACCEPTED = "host_key_accepted"


S = RunStatus

#: Every allowed (from, to) transition of a run, with the action that causes it.
TRANSITIONS: dict[tuple[RunStatus, RunStatus], str] = {
    (S.QUEUED, S.RUNNING): "dispatch",
    (S.QUEUED, S.CANCELLED): "cancel",
    (S.QUEUED, S.FAILED): "dispatch refused: a secret of the job cannot be read",
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

#: A run in one of these has ended; only an operator retry moves it again.
TERMINAL: frozenset[RunStatus] = frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED, S.TIMED_OUT})

#: A run in one of these holds a slot on a node.
ACTIVE: frozenset[RunStatus] = frozenset({S.RUNNING})

#: Attempt statuses after which the attempt is over.
ATTEMPT_ENDED: frozenset[AttemptStatus] = frozenset(set(AttemptStatus) - {AttemptStatus.STARTING, AttemptStatus.RUNNING})


def sources_of(target: RunStatus) -> tuple[RunStatus, ...]:
    """Statuses from which a run may move to `target`, for guarded UPDATE ... WHERE status IN (...)."""
    return tuple(src for (src, dst) in TRANSITIONS if dst == target)


def is_allowed(source: RunStatus, target: RunStatus) -> bool:
    return (source, target) in TRANSITIONS
