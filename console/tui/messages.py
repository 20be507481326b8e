"""Messages that polling workers post to the widgets and screens that show their results."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from textual.message import Message

from scheduler.backfills import BackfillDetail
from scheduler.engine import JobSummary, NodeView, RunBoard, RunDetail
from scheduler.models import Arrival, Attempt, Backfill, Event, QueueState, Run


class _Latest(Message):
    """A frequent message of which only the newest pending one matters."""

    def can_replace(self, message: Message) -> bool:
        return type(message) is type(self)


@dataclass
class SchedulerPresence(_Latest):
    """Whether a scheduler holds this home's lock."""

    running: bool


@dataclass
class RunsWindowLoaded(_Latest):
    """A window of runs (newest first) for the runs table, with why each one waits or ended."""

    generation: int
    runs: list[Run]
    reasons: dict[int, str]
    attempts: dict[int, Attempt]
    total: int
    #: Fewer rows came back than asked for: the list ends in the direction this page was fetched.
    exhausted: bool
    #: What was fetched: top, bottom, down (after the window), up (before it), refresh (the window again) or
    #: around (the cursor's run, after a sort).
    anchor: str
    #: For `around`: fewer rows came back before the cursor's run than asked for (the list starts in the window).
    exhausted_before: bool = False
    #: The clock time the page was read at (a running run's runtime counts to it).
    now: datetime | None = None


@dataclass
class RunDetailLoaded(_Latest):
    """A run's attempts, events and checkpoints, plus why it waits."""

    detail: RunDetail
    reason: str | None
    stderr_tail: list[str] = field(default_factory=list)
    #: The attempt `stderr_tail` belongs to (None when no attempt ended without success).
    tail_attempt: int | None = None


@dataclass
class LogChunk(Message):
    """Lines read from one attempt's stream; `replace` marks a reload; `pending` is an unfinished last line."""

    generation: int
    lines: list[str]
    start_offset: int
    end_offset: int
    size: int
    replace: bool = False
    pending: bytes = b""
    #: The stream offset just past each line, for mapping lines to their arrival times.
    ends: list[int] = field(default_factory=list)


@dataclass
class LogSize(_Latest):
    """The current size of the followed stream and whether its attempt has ended."""

    generation: int
    size: int
    ended: bool


@dataclass
class OverviewLoaded(_Latest):
    """Queues, nodes, status counts and service levels for the overview."""

    queues: list[QueueState]
    nodes: list[NodeView]
    counts: dict[str, int]
    slis: dict[str, str]
    sparklines: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class RunBoardLoaded(_Latest):
    """The overview's runs, with why each waits or ended and each one's last attempt, as of `now`."""

    board: RunBoard
    reasons: dict[int, str]
    attempts: dict[int, Attempt]
    now: datetime


@dataclass
class BackfillsLoaded(_Latest):
    """Every backfill with its per-status run counts."""

    backfills: list[Backfill]
    counts: dict[int, dict[str, int]]


@dataclass
class BackfillDetailLoaded(_Latest):
    """One backfill's runs, counts and wait reasons."""

    detail: BackfillDetail


@dataclass
class EventsLoaded(_Latest):
    """A page of events, newest first."""

    events: list[Event]
    more: bool


@dataclass
class DeadLetterTail(_Latest):
    """The last stderr lines and the outcome of the selected dead-letter run."""

    run_id: int
    outcome: str
    lines: list[str]


@dataclass
class NodesLoaded(_Latest):
    """Every configured node with its state, and the running runs on each (by node name)."""

    nodes: list[NodeView]
    runs: dict[str, list[Run]]


@dataclass
class JobsLoaded(_Latest):
    """Every job file, valid or with its error, with its next tick and newest run."""

    jobs: list[JobSummary]


@dataclass
class LogArrivals(Message):
    """Arrival times read for one stream, from `start` of its arrivals file up to `end`."""

    key: tuple[int, int, str]
    arrivals: list[Arrival]
    start: int
    end: int
