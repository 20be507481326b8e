"""The two interfaces screens and widgets see: the engine's calls and the app's services.

`EnginePort` names exactly the `scheduler.engine.Engine` calls the console makes, with Engine's signatures;
app.py holds an Engine where an EnginePort is expected, so mypy checks that Engine still satisfies it, and
tests/test_console_ports.py fails when one of these methods is renamed or its parameters change.

`AppPort` is what screens and widgets ask of the Sluice app beyond Textual's own App API: app.py's SluiceApp
implements it (mypy checks that there too), and nothing under screens/ or widgets/ imports app.py. Opening a
run, a backfill or the launch form goes through the app, which owns the mapping from view to screen, so no
screen imports another screen to open it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, cast

from textual.app import App
from textual.worker import Worker

from scheduler.backfills import BackfillDetail, BackfillPlan
from scheduler.clock import Clock
from scheduler.config import JobDefinition
from scheduler.engine import ActionResult, JobSummary, NodeView, RunBoard, RunDetail
from scheduler.models import Arrival, Attempt, Backfill, Event, QueueState, Run
from scheduler.run_filter import RunFilter
from scheduler.run_order import RunOrder

#: What an operator action run through the app resolves to: a message, the engine's per-run results, or nothing.
ActionOutcome = str | list[ActionResult] | None
#: An operator action: called only once confirmed, awaited off the UI path.
Action = Callable[[], Awaitable[ActionOutcome]]


class EnginePort(Protocol):
    """The engine calls the console makes (signatures as on scheduler.engine.Engine)."""

    @property
    def clock(self) -> Clock: ...

    # --- configuration

    def jobs(self) -> dict[str, JobDefinition]: ...

    async def job_summaries(self) -> list[JobSummary]: ...

    # --- submitting

    async def submit(self, job_name: str, params: dict[str, Any], queue: str | None = None,
                     priority: int | None = None, key: str | None = None) -> tuple[int, bool]: ...

    async def trigger_now(self, job_name: str) -> int: ...

    # --- operator actions

    async def cancel(self, run_ids: Sequence[int], reason: str | None = None,
                     kill: bool = True) -> list[ActionResult]: ...

    async def retry(self, run_ids: Sequence[int], from_scratch: bool = False,
                    reason: str | None = None, rerun_succeeded: bool = True) -> list[ActionResult]: ...

    async def set_priority(self, run_id: int, priority: int) -> None: ...

    async def set_drained(self, node: str, drained: bool, reason: str | None = None,
                          deadline: float | None = None) -> None: ...

    async def set_queue_paused(self, queue: str, paused: bool, reason: str | None = None) -> None: ...

    # --- queries

    async def runs(self, run_filter: RunFilter = RunFilter(), limit: int = 50, before_id: int | None = None,
                   after_id: int | None = None) -> list[Run]: ...

    async def runs_page(self, run_filter: RunFilter, limit: int, order: RunOrder, after: Run | None = None,
                        backwards: bool = False, inclusive: bool = False) -> list[Run]: ...

    async def count_runs(self, run_filter: RunFilter = RunFilter(), cap: int | None = None) -> int: ...

    async def run_detail(self, run_id: int) -> RunDetail: ...

    async def last_attempts(self, run_ids: Sequence[int]) -> dict[int, Attempt]: ...

    async def events(self, limit: int = 200, before_id: int | None = None, kind: str | None = None,
                     actor: str | None = None, words: Sequence[str] = ()) -> list[Event]: ...

    async def status_counts(self) -> dict[str, int]: ...

    async def queues(self) -> list[QueueState]: ...

    async def nodes(self) -> list[NodeView]: ...

    async def wait_reasons(self, runs: Sequence[Run]) -> dict[int, str]: ...

    async def run_board(self, limit: int = 30) -> RunBoard: ...

    # --- backfills

    async def plan_backfill(self, job: str, *, range_from: str | None = None, range_to: str | None = None,
                            values: list[str] | None = None, params: dict[str, Any] | None = None,
                            max_parallel: int | None = None, order: str = "oldest-first", canary: int | None = None,
                            rerun_succeeded: bool = False, queue: str | None = None,
                            priority: int | None = None) -> BackfillPlan: ...

    async def create_backfill(self, plan: BackfillPlan, rerun_succeeded: bool = False) -> tuple[int, list[int]]: ...

    async def backfills(self, limit: int = 200) -> list[Backfill]: ...

    async def backfill_counts(self, backfill_id: int) -> dict[str, int]: ...

    async def backfill_detail(self, backfill_id: int) -> BackfillDetail: ...

    async def pause_backfill(self, backfill_id: int, reason: str | None = None) -> None: ...

    async def resume_backfill(self, backfill_id: int) -> None: ...

    async def set_backfill_max_parallel(self, backfill_id: int, max_parallel: int) -> None: ...

    async def cancel_backfill(self, backfill_id: int, kill: bool = False,
                              reason: str | None = None) -> list[ActionResult]: ...

    async def retry_failed_backfill(self, backfill_id: int, reason: str | None = None) -> list[ActionResult]: ...

    # --- logs (blocking file reads: called from thread workers)

    def read_log(self, run_id: int, attempt: int, stream: str, offset: int = 0, size: int = -1) -> bytes: ...

    def log_size(self, run_id: int, attempt: int, stream: str) -> int: ...

    def log_tail(self, run_id: int, attempt: int, stream: str, lines: int) -> bytes: ...

    def log_arrivals(self, run_id: int, attempt: int, stream: str, start: int = 0) -> tuple[list[Arrival], int]: ...

    # --- scheduler presence

    def scheduler_running(self) -> bool: ...


class AppPort(Protocol):
    """What screens and widgets need from the Sluice app, besides Textual's App API."""

    @property
    def engine(self) -> EnginePort:
        """The engine every query and action goes through."""

    @property
    def readonly(self) -> bool:
        """A read-only console hides and refuses every action that changes the store."""

    @property
    def frozen(self) -> bool:
        """Z froze every view: screens skip their timed refresh."""

    @property
    def poll_interval(self) -> float:
        """Seconds between two refreshes of the shown screen."""

    @property
    def scheduler_up(self) -> bool | None:
        """Whether a scheduler holds the home's lock (None until first checked); the banner watches it."""

    def confirm(self, question: str, action: Action, label: str = "Yes") -> None:
        """Ask, and run `action` through the engine only on yes."""

    def do_action(self, action: Action) -> Worker[None]:
        """Run `action` off the UI path; its outcome or error becomes a notification."""

    async def open_view(self, text: str) -> None:
        """Switch to the view named by `text`, as typed after `:`."""

    def open_run(self, run_id: int, tab: str = "log") -> None:
        """Show one run's detail on top of the current screen, on `tab`."""

    def open_backfill(self, backfill_id: int, *, replace: bool = False) -> None:
        """Show one backfill's partition grid on top of the current screen, or instead of it with `replace`."""

    def open_backfill_launch(self) -> None:
        """Show the form that plans and launches a new backfill."""

    def back(self) -> None:
        """Leave a detail screen (a no-op on a view's own screen)."""


def app_port(app: App[object]) -> AppPort:
    """The running Sluice app as its port: Textual types `node.app` as a plain App, and only SluiceApp (checked
    against AppPort in app.py) ever runs the console's screens and widgets."""
    return cast(AppPort, app)
