"""One backfill: its progress, its settings and a partition grid; enter opens a partition's run."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Header, Static

from scheduler.backfills import BackfillDetail
from scheduler.errors import NotFound
from scheduler.models import Backfill
from scheduler.states import RunStatus

from ..format import BACKFILL_STYLES, STATUS_GLYPHS, backfill_progress, run_why, status_style
from ..messages import BackfillDetailLoaded
from ..shield import QUERY_ERRORS, shielded
from ..widgets.banner import SchedulerBanner
from ..widgets.key_footer import KeyFooter
from ..widgets.partition_grid import PartitionGrid
from ..widgets.progress_line import ProgressLine
from ..widgets.quiet import update_static
from .backfill_verbs import BACKFILL_VERB_BINDINGS, BackfillVerbs

#: The partition grid's legend: each run status with the word it goes by there.
LEGEND: dict[str, str] = {
    RunStatus.QUEUED: "queued", RunStatus.RUNNING: "running", RunStatus.RETRY_WAIT: "retrying",
    RunStatus.SUCCEEDED: "done", RunStatus.FAILED: "failed", RunStatus.CANCELLED: "cancelled",
    RunStatus.TIMED_OUT: "timed out",
}


class BackfillDetailScreen(BackfillVerbs):
    """A backfill's partitions as a grid coloured by run status."""

    VIEW_TITLE = "Backfill"
    BINDINGS = [Binding("escape", "back", "Back"), *BACKFILL_VERB_BINDINGS]

    DEFAULT_CSS = """
    BackfillDetailScreen #bf-summary { height: auto; padding: 0 1; }
    BackfillDetailScreen #bf-legend { height: 1; padding: 0 1; }
    BackfillDetailScreen #bf-cell { height: 2; padding: 0 1; border-top: solid $primary; }
    """

    def __init__(self, backfill_id: int) -> None:
        super().__init__()
        self.backfill_id = backfill_id
        self.detail: BackfillDetail | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield SchedulerBanner()
        yield Static("loading…", id="bf-summary")
        yield ProgressLine(id="bf-progress")
        yield Static(_legend(), id="bf-legend")
        yield PartitionGrid(id="grid")
        yield Static("", id="bf-cell")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = f"backfill {self.backfill_id}"
        self.query_one(PartitionGrid).focus()

    def poll(self) -> None:
        self._load()

    @work(exclusive=True, group="backfill-detail")
    async def _load(self) -> None:
        try:
            detail = await shielded(self.engine.backfill_detail(self.backfill_id))
        except NotFound as exc:
            self.notify(str(exc), severity="error")
            self.dismiss()
            return
        except QUERY_ERRORS as exc:
            self.notify(f"refresh failed: {exc}", severity="error")
            return
        self.post_message(BackfillDetailLoaded(detail))

    def on_backfill_detail_loaded(self, message: BackfillDetailLoaded) -> None:
        self.detail = detail = message.detail
        backfill = detail.backfill
        fraction, label = backfill_progress(detail.counts, backfill.planned)
        update_static(self.query_one("#bf-summary", Static), _summary(backfill, detail.counts))
        self.query_one(ProgressLine).update(fraction, label)
        grid = self.query_one(PartitionGrid)
        grid.set_cells([run.partition or str(run.id) for run in detail.runs], [run.status for run in detail.runs])
        self._describe(grid.cursor)

    def on_partition_grid_selected(self, message: PartitionGrid.Selected) -> None:
        self._describe(message.index)

    def _describe(self, index: int) -> None:
        if self.detail is None or not 0 <= index < len(self.detail.runs):
            return
        run = self.detail.runs[index]
        text = Text(f"{run.partition}  run {run.id}  ")
        text.append(run.status, style=status_style(run.status))
        why = run_why(run, self.detail.reasons, {})
        if why:
            text.append(f"  {why}", style="dim")
        text.append("\nenter: open the run · arrows: move", style="dim")
        update_static(self.query_one("#bf-cell", Static), text)

    def on_partition_grid_opened(self, message: PartitionGrid.Opened) -> None:
        if self.detail is not None and message.index < len(self.detail.runs):
            self.sluice.open_run(self.detail.runs[message.index].id)

    def target_backfill(self) -> tuple[Backfill, dict[str, int]] | None:
        if self.detail is None:
            return None
        return self.detail.backfill, self.detail.counts

    def action_back(self) -> None:
        self.dismiss()


def _summary(backfill: Backfill, counts: dict[str, int]) -> Text:
    text = Text()
    text.append(f"backfill {backfill.id} ", style="bold")
    text.append(f"{backfill.job}  ", style="bold")
    text.append(backfill.status.upper(), style=BACKFILL_STYLES.get(backfill.status, "dim"))
    span = backfill.range_from or ""
    if backfill.range_to and backfill.range_to != backfill.range_from:
        span += f" … {backfill.range_to}"
    text.append(f"  {span}  {backfill.planned} planned, {backfill.skipped} skipped\n")
    parallel = backfill.max_parallel or "unlimited"
    canary = ""
    if backfill.canary:
        canary = f" · canary {backfill.canary} ({'released' if backfill.canary_released else 'holding'})"
    text.append(f"max-parallel {parallel} · {backfill.order_by} · queue {backfill.queue} · by "
                f"{backfill.created_by}{canary}", style="dim")
    return text


def _legend() -> Text:
    text = Text()
    for status, word in LEGEND.items():
        text.append(STATUS_GLYPHS[status] + " ", style=status_style(status))
        text.append(f"{word}  ", style="dim")
    return text
