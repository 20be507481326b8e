"""Jobs: each job file valid or with its error, its schedule, next tick and last run; submit a run, trigger now."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Static

from scheduler.engine import JobSummary

from ..format import short_time, status_style
from ..messages import JobsLoaded
from ..shield import QUERY_ERRORS, shielded
from ..widgets.banner import SchedulerBanner
from ..widgets.key_footer import KeyFooter
from ..widgets.quiet import update_static
from ..widgets.table_sync import sync_rows
from .base import SluiceScreen
from .submit_form import SubmitFormScreen

#: The validation state of a job file, as the STATE column shows it.
VALID, INVALID = "ok", "error"


class JobsScreen(SluiceScreen):
    """The job definitions of the home's jobs folder, read afresh on every refresh."""

    VIEW_TITLE = "Jobs"
    SUB_TITLE = "jobs"
    BINDINGS = [
        Binding("s", "submit", "Submit a run…"),
        Binding("t", "trigger", "Trigger now"),
    ]

    DEFAULT_CSS = """
    JobsScreen #jobs { height: 1fr; }
    JobsScreen #job-detail { height: auto; max-height: 40%; border-top: solid $primary; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.loaded = JobsLoaded([])

    def compose(self) -> ComposeResult:
        yield Header()
        yield SchedulerBanner()
        yield Static("", id="jobs-status", classes="status-line")
        yield DataTable(id="jobs", cursor_type="row")
        yield Static("", id="job-detail", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#jobs", DataTable).add_columns(
            "JOB", "STATE", "QUEUE", "SCHEDULE", "NEXT TICK", "LAST RUN", "AT"
        )
        self.query_one("#jobs", DataTable).focus()

    def poll(self) -> None:
        self._load()

    @work(exclusive=True, group="jobs")
    async def _load(self) -> None:
        try:
            self.post_message(JobsLoaded(await shielded(self.engine.job_summaries())))
        except QUERY_ERRORS as exc:
            self.notify(f"refresh failed: {exc}", severity="error")

    def on_jobs_loaded(self, message: JobsLoaded) -> None:
        self.loaded = message
        sync_rows(
            self.query_one("#jobs", DataTable),
            {summary.entry.name: _job_row(summary) for summary in message.jobs},
        )
        broken = sum(1 for summary in message.jobs if summary.entry.error)
        if not message.jobs:
            text = "No jobs: add a TOML file to the jobs folder."
        elif broken:
            text = (
                f"{len(message.jobs)} jobs, {broken} invalid: the scheduler and `sluice submit` refuse the "
                "jobs folder until it is fixed"
            )
        else:
            text = f"{len(message.jobs)} jobs, all valid"
        update_static(self.query_one("#jobs-status", Static), text)
        self._show_detail()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        summary = self._cursor_job()
        update_static(self.query_one("#job-detail", Static), _detail(summary) if summary else "")

    def _cursor_job(self) -> JobSummary | None:
        table = self.query_one("#jobs", DataTable)
        if not table.row_count:
            return None
        name = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((summary for summary in self.loaded.jobs if summary.entry.name == name), None)

    def _target(self) -> JobSummary | None:
        summary = self._cursor_job()
        if summary is None:
            self.notify("no job selected", severity="warning")
        elif summary.entry.definition is None or summary.entry.error:
            self.notify(f"job {summary.entry.name} is invalid: fix its file first", severity="warning")
            return None
        return summary

    # --- keys ---------------------------------------------------------------------------------------------

    def action_submit(self) -> None:
        summary = self._target()
        if summary is None or summary.entry.definition is None:
            return

        def submitted(run_id: int | None) -> None:
            if run_id is not None:
                self.notify(f"run {run_id} of {summary.entry.name} submitted")
                self.poll()

        self.app.push_screen(SubmitFormScreen(summary.entry.definition), submitted)

    def action_trigger(self) -> None:
        summary = self._target()
        job = summary.entry.definition if summary else None
        if summary is None or job is None:
            return
        if not job.schedule:
            self.notify(f"job {job.name} has no schedule: press s to submit a run of it", severity="warning")
            return
        partition = summary.trigger_partition
        what = f"partition {partition}" if partition else "default params"
        self.sluice.confirm(
            f'Trigger {job.name} now?\n\nOne run is queued now ({what}), outside its schedule "{job.schedule}"; '
            f"its next tick ({short_time(summary.next_tick)}) still comes.",
            lambda: self._trigger(job.name),
            "Trigger",
        )

    async def _trigger(self, name: str) -> str:
        run_id = await self.engine.trigger_now(name)
        return f"run {run_id} of {name} queued (triggered now)"

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a job opens the runs view scoped to it."""
        self.call_later(self.sluice.open_view, f"runs job={event.row_key.value}")


def _job_row(summary: JobSummary) -> tuple[Any, ...]:
    entry, job, last = summary.entry, summary.entry.definition, summary.last_run
    state = Text(INVALID, style="bold red") if entry.error else Text(VALID, style="green")
    return (
        entry.name,
        state,
        job.queue if job else "-",
        (job.schedule if job else None) or "-",
        short_time(summary.next_tick),
        Text(last.status, style=status_style(last.status)) if last else "-",
        short_time(last.ended_at or last.started_at or last.created_at) if last else "-",
    )


def _detail(summary: JobSummary) -> str:
    """The error of an invalid file in full; else what a valid job declares."""
    entry, job = summary.entry, summary.entry.definition
    if entry.error:
        return entry.error
    assert job is not None  # a valid entry always has its definition
    lines = [f"{job.name}: {job.description}" if job.description else job.name]
    if job.partition:
        lines.append(f"partition {job.partition.param} ({job.partition.kind}, required)")
    if job.params:
        lines.append("params " + "  ".join(f"{name}={value}" for name, value in job.params.items()))
    if job.schedule:
        lines.append(f'schedule "{job.schedule}" ({job.timezone})' + (", catch-up" if job.catchup else ""))
    if job.after:
        lines.append("after " + ", ".join(job.after))
    lines.append(f"file {entry.path}")
    return "\n".join(lines)
