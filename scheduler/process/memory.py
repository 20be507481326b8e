"""What the loop keeps in memory of the store, and what a pass does outside it once it committed.

A pass works on a copy of the memory and swaps it in only after its COMMIT; a failed pass leaves the memory as
the store still has it (STYLE 13: memory follows commits)."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field

from ..executor import LaunchRequest
from ..models import Attempt
from .inbox import SignalOrder


@dataclass(frozen=True)
class ProbeStreak:
    """Failed probes of one attempt in a row with the same message: recorded once, counted here."""

    message: str
    count: int
    first_at: str
    last_at: str


@dataclass
class Memory:
    #: Attempts starting or running, as committed.
    active: dict[int, Attempt] = field(default_factory=dict)
    #: Attempts whose launch command is out right now.
    launching: set[int] = field(default_factory=set)
    #: Attempts whose launch may have reached the worker: only the worker's answer or the lease ends them.
    maybe_sent: set[int] = field(default_factory=set)
    #: run id -> timeout in seconds, for runs with an active attempt.
    timeouts: dict[int, float] = field(default_factory=dict)
    #: Attempts that were sent KILL after their grace period.
    hard_killed: set[int] = field(default_factory=set)
    #: Stale attempts being fenced, and ended ones being cleaned up: not asked for twice.
    fencing: set[int] = field(default_factory=set)
    cleaning: set[int] = field(default_factory=set)
    #: node -> (state, error) last written to the store, so only changes are written.
    node_recorded: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    #: node -> how many of its host keys trusted on first use have their event committed.
    host_keys_recorded: dict[str, int] = field(default_factory=dict)
    #: node -> loop time it was first seen unreachable in the current outage.
    down_since: dict[str, float] = field(default_factory=dict)
    #: attempt id -> loop time before which it is not relaunched again.
    relaunch_after: dict[int, float] = field(default_factory=dict)
    #: node -> why its last probe failed, as committed (None until read from the store in the first pass).
    probe_errors: dict[str, str] | None = None
    #: quarantined node -> loop time of its next health check; nodes being checked right now.
    quarantine_check_at: dict[str, float] = field(default_factory=dict)
    checking: set[str] = field(default_factory=set)
    #: Nodes whose current outage (connections lost or refused) already counted as one infrastructure failure;
    #: a node leaves once it works again: back up after being down, an attempt ended normally, a check passed.
    outage_counted: set[str] = field(default_factory=set)
    #: attempt id -> its probes failing in a row now, whose first failure is committed to its activity.
    probe_streaks: dict[int, ProbeStreak] = field(default_factory=dict)

    def copy(self) -> Memory:
        """A working copy: containers copied, attempts shared (they are frozen)."""
        return Memory(**{name: copy.copy(value) for name, value in vars(self).items()})


@dataclass
class Effects:
    """What a pass does outside the store, only once its transaction committed."""

    #: node -> signals to send.
    signals: dict[str, list[SignalOrder]] = field(default_factory=dict)
    #: (attempt, what to send) to launch.
    launches: list[tuple[Attempt, LaunchRequest]] = field(default_factory=list)
    #: node -> ended attempts whose folders to remove.
    cleanups: dict[str, list[Attempt]] = field(default_factory=dict)
    #: Attempts whose log capture stall was recorded as over: the loop forgets when it began.
    stalls_ended: list[int] = field(default_factory=list)
    #: Quarantined nodes to health-check.
    checks: list[str] = field(default_factory=list)
    #: Probe futures to resolve.
    applied: list[asyncio.Future[None]] = field(default_factory=list)
    #: True when the pass changed the store: another pass may find more to do.
    progressed: bool = False

    def signal(self, node: str, order: SignalOrder) -> None:
        self.signals.setdefault(node, []).append(order)
