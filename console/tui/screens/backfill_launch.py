"""Launch a backfill: fill the form, see the dry-run plan, confirm, and land on its partition grid."""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Checkbox, Header, Input, Label, Select, Static

from scheduler.backfills import BackfillPlan
from scheduler.errors import SluiceError

from ..backfill_form import LaunchForm, confirm_question, describe_plan
from ..shield import shielded
from ..widgets.key_footer import KeyFooter
from .base import SluiceScreen
from .confirm import ConfirmScreen

INPUTS = [("range_from", "from"), ("range_to", "to"), ("values", "values (comma-separated)"),
          ("max_parallel", "max parallel"), ("canary", "canary runs"), ("params", "params NAME=VALUE …"),
          ("queue", "queue (job's default)"), ("priority", "priority (job's default)")]
KIND_HINTS = {"daily": "YYYY-MM-DD", "hourly": "YYYY-MM-DDTHH", "monthly": "YYYY-MM"}


class BackfillLaunchScreen(SluiceScreen):
    """A form over Engine.plan_backfill; launching needs a plan that matches the form as it is now."""

    VIEW_TITLE = "Launch a backfill"
    SUB_TITLE = "new backfill"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("f5", "plan", "Plan"),
        Binding("f6", "launch", "Launch"),
        # Priority: the app moves focus as it reads the key, before it forwards the next keys of a burst (a
        # slow link's typed-ahead); unbound, tab went through the field's queue and the rest landed in "from".
        Binding("tab", "app.focus_next", "Next field", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", "Previous field", show=False, priority=True),
    ]

    DEFAULT_CSS = """
    BackfillLaunchScreen VerticalScroll { height: 1fr; padding: 0 1; }
    BackfillLaunchScreen .field { height: 1; }
    BackfillLaunchScreen .field Label { width: 26; padding: 0 1 0 0; }
    BackfillLaunchScreen .field Input, BackfillLaunchScreen .field Select { width: 1fr; }
    BackfillLaunchScreen #plan { height: auto; min-height: 3; border: round $primary; padding: 0 1; }
    BackfillLaunchScreen #buttons { height: 1; margin-top: 1; }
    BackfillLaunchScreen Button { margin-right: 2; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.plan: BackfillPlan | None = None
        self.planned_form: LaunchForm | None = None

    def compose(self) -> ComposeResult:
        kinds = {name: job.partition.kind for name, job in self.engine.jobs().items() if job.partition is not None}
        yield Header()
        with VerticalScroll():
            with Horizontal(classes="field"):
                yield Label("job")
                yield Select([(f"{name} ({kind})", name) for name, kind in sorted(kinds.items())],
                             id="job", prompt="partitioned job", allow_blank=True, compact=True)
            with Horizontal(classes="field"):
                yield Label("order")
                yield Select([("oldest first", "oldest-first"), ("newest first", "newest-first")], id="order",
                             value="oldest-first", allow_blank=False, compact=True)
            for name, label in INPUTS:
                with Horizontal(classes="field", id=f"field-{name}"):
                    yield Label(label)
                    yield Input(id=name, compact=True)
            yield Checkbox("re-run partitions that already succeeded", id="rerun_succeeded", compact=True)
            yield Static("Fill the form, then press F5 (or enter) to see the plan. Nothing is created until you "
                         "confirm.", id="plan")
            with Horizontal(id="buttons"):
                yield Button("Plan (F5)", id="plan-button", compact=True)
                yield Button("Launch… (F6)", id="launch-button", variant="warning", disabled=True, compact=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.jobs = self.engine.jobs()
        self.query_one("#job", Select).focus()

    def form(self) -> LaunchForm:
        job = self.query_one("#job", Select).value
        values = {name: self.query_one(f"#{name}", Input).value for name, _ in INPUTS}
        return LaunchForm(job=job if isinstance(job, str) else "", order=str(self.query_one("#order", Select).value),
                          rerun_succeeded=self.query_one("#rerun_succeeded", Checkbox).value, **values)

    @on(Select.Changed, "#job")
    def _job_chosen(self, event: Select.Changed) -> None:
        job = self.jobs.get(str(event.value))
        if job is not None and job.partition is not None:
            hint = KIND_HINTS.get(job.partition.kind, "")
            self.query_one("#range_from", Input).placeholder = hint
            self.query_one("#range_to", Input).placeholder = hint
            self.query_one("#values", Input).placeholder = ", ".join(job.partition.values or [])[:60]
            listed = job.partition.kind == "list"
            for name in ("range_from", "range_to"):
                self.query_one(f"#field-{name}").display = not listed
            self.query_one("#field-values").display = listed
        self._form_changed()

    @on(Input.Changed)
    @on(Checkbox.Changed)
    @on(Select.Changed, "#order")
    def _form_changed(self) -> None:
        if self.planned_form is not None and self.planned_form != self.form():
            self.plan = self.planned_form = None
            self.query_one("#launch-button", Button).disabled = True
            self.query_one("#plan", Static).update("The form changed: press F5 to plan again.")

    def on_input_submitted(self) -> None:
        self.action_plan()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "plan-button":
            self.action_plan()
        elif event.button.id == "launch-button":
            self.action_launch()

    def action_plan(self) -> None:
        form = self.form()
        if not form.job:
            self.query_one("#plan", Static).update("Choose a job first.")
            return
        try:
            arguments = form.plan_arguments()
        except ValueError as exc:
            self.query_one("#plan", Static).update(f"[red]{exc}[/red]")
            return
        self.query_one("#plan", Static).update("planning…")
        self._plan(form, arguments)

    @work(exclusive=True, group="plan")
    async def _plan(self, form: LaunchForm, arguments: dict[str, Any]) -> None:
        try:
            plan = await shielded(self.engine.plan_backfill(form.job, **arguments))
        except SluiceError as exc:
            self.query_one("#plan", Static).update(f"[red]{exc}[/red]")
            return
        self.plan, self.planned_form = plan, form
        self.query_one("#plan", Static).update("[b]Plan[/b] (dry run, nothing created yet)\n" + describe_plan(plan))
        self.query_one("#launch-button", Button).disabled = not plan.partitions

    def action_launch(self) -> None:
        if self.plan is None or self.planned_form != self.form():
            self.notify("plan first (F5): the launch creates exactly the plan shown", severity="warning")
            return
        if not self.plan.partitions:
            self.notify("the plan has no runs to create", severity="warning")
            return
        plan, rerun = self.plan, self.planned_form.rerun_succeeded

        def answered(yes: bool | None) -> None:
            if yes:
                self._create(plan, rerun)

        self.app.push_screen(ConfirmScreen(confirm_question(plan), f"Create {len(plan.partitions)} runs"), answered)

    @work(exclusive=True, group="create")
    async def _create(self, plan: BackfillPlan, rerun: bool) -> None:
        try:
            backfill_id, run_ids = await shielded(self.engine.create_backfill(plan, rerun_succeeded=rerun))
        except SluiceError as exc:
            self.notify(str(exc), severity="error")
            return
        if not backfill_id:
            self.notify("nothing created: every partition is now done or under way", severity="warning")
            return
        self.notify(f"backfill {backfill_id} created: {len(run_ids)} runs of {plan.job}")
        self.sluice.open_backfill(backfill_id, replace=True)

    def action_back(self) -> None:
        self.dismiss()
