"""What the loop's helpers (launch tasks, watchers, cleanup tasks) hand to the central loop, one class a fact.

The loop applies an item in a pass and keeps it until that pass committed: an item is never dropped."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ..executor import Launched, ProbeReport
from ..models import Attempt


@dataclass
class LaunchDone:
    """A launch command came back: the attempt started (or was found started), or why not."""

    attempt_id: int
    launched: Launched | None = None
    error: Exception | None = None


@dataclass
class ProbeDone:
    """A probe's reports; `applied` resolves once they are committed, so no byte is fetched twice."""

    node: str
    reports: list[tuple[Attempt, ProbeReport]]
    applied: asyncio.Future[None]


@dataclass
class ProbeFailed:
    """A node answered a probe, but not with a report; `message` is the same for the same fault."""

    node: str
    message: str
    #: The attempts that probe asked about: each records the failure in its activity.
    attempt_ids: list[int] = field(default_factory=list)


@dataclass
class FenceSent:
    """KILL reached the stale attempts of a node that answers again."""

    node: str
    attempt_ids: list[int]


@dataclass
class CleanupDone:
    """Ended attempts' folders were removed from a node (or, for `failed_ids`, could not be: tried again later)."""

    node: str
    attempt_ids: list[int]
    failed_ids: list[int] = field(default_factory=list)


@dataclass
class SignalOrder:
    """A signal the loop decided to send to attempt folders on one node; `fence_ids` are reported back."""

    signal: str
    remote_dirs: list[str]
    fence_ids: list[int] = field(default_factory=list)
    #: The attempts signalled (other than fenced ones): whether it reached them is reported back as SignalSent.
    attempt_ids: list[int] = field(default_factory=list)
    #: The errors its tries to send it met so far: a node that keeps failing is reported once per distinct error.
    errors: set[str] = field(default_factory=set)


@dataclass
class SignalSent:
    """A TERM or KILL for attempts reached their node, or (error set) a try to send it failed; it is sent again."""

    node: str
    signal: str
    attempt_ids: list[int]
    error: str | None = None


@dataclass
class CheckDone:
    """A quarantined node's health check came back: passed (error None) or why not."""

    node: str
    error: str | None = None


InboxItem = LaunchDone | ProbeDone | ProbeFailed | FenceSent | CleanupDone | CheckDone | SignalSent
