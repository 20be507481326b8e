"""Submit one run of a job: a field per declared param (defaults filled in, the partition required), checked
by the engine's submit as `sluice submit -p` is; an error stays in the form and nothing is created."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from scheduler.config import JobDefinition
from scheduler.errors import SluiceError

from ..ports import app_port
from ..shield import QUERY_ERRORS, shielded

KIND_HINTS = {"daily": "YYYY-MM-DD", "hourly": "YYYY-MM-DDTHH", "monthly": "YYYY-MM"}


def param_fields(job: JobDefinition) -> list[tuple[str, str, bool]]:
    """(name, value to start with, required) per param the job declares: its partition first, then the rest."""
    fields = []
    if job.partition is not None:
        fields.append((job.partition.param, "", True))
    fields += [(name, _as_text(value), False) for name, value in job.params.items()]
    return fields


def given_params(values: dict[str, str], required: set[str]) -> dict[str, str]:
    """The params to submit: an empty required field is left out, so the engine says what it needs."""
    return {name: value for name, value in values.items() if value or name not in required}


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class SubmitFormScreen(ModalScreen[int | None]):
    """Returns the new run's id once submitted; None on escape."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Submit"),
        # Priority: focus moves before the rest of a typed-ahead burst arrives (as in the backfill form).
        Binding("tab", "app.focus_next", "Next field", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", "Previous field", show=False, priority=True),
    ]

    DEFAULT_CSS = """
    SubmitFormScreen { align: center middle; }
    SubmitFormScreen > Vertical {
        width: 76; max-width: 100%; height: auto; max-height: 95%; border: thick $primary; background: $surface;
        padding: 0 1;
    }
    SubmitFormScreen VerticalScroll { height: auto; max-height: 16; }
    SubmitFormScreen .field { height: 1; }
    SubmitFormScreen .param-label { width: 24; }
    SubmitFormScreen Input { width: 1fr; }
    SubmitFormScreen #form-error { color: $error; height: auto; }
    SubmitFormScreen .hint { color: $text-muted; }
    """

    def __init__(self, job: JobDefinition) -> None:
        super().__init__()
        self.job = job
        self.fields = param_fields(job)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                f"Submit a run of {self.job.name} (queue {self.job.queue}, priority {self.job.priority})",
                markup=False,
            )
            with VerticalScroll():
                for name, value, required in self.fields:
                    with Horizontal(classes="field"):
                        yield Static(f"{name} *" if required else name, classes="param-label", markup=False)
                        hint = (
                            KIND_HINTS.get(self.job.partition.kind, "")
                            if required and self.job.partition
                            else ""
                        )
                        yield Input(value=value, placeholder=hint, id=f"param-{name}", compact=True)
                if not self.fields:
                    yield Static("This job declares no params.", classes="hint")
            yield Static("", id="form-error", markup=False)
            yield Static("* required   enter: submit   tab: next field   esc: cancel", classes="hint")

    def on_mount(self) -> None:
        inputs = self.query(Input)
        if inputs:
            inputs.first().focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def action_submit(self) -> None:
        if app_port(self.app).readonly:
            self._show_error("read-only console: nothing was submitted")
            return
        values = {name: self.query_one(f"#param-{name}", Input).value for name, _, _ in self.fields}
        self._submit(given_params(values, {name for name, _, required in self.fields if required}))

    @work(exclusive=True, group="submit")
    async def _submit(self, params: dict[str, str]) -> None:
        try:
            run_id, _ = await shielded(app_port(self.app).engine.submit(self.job.name, params))
        except QUERY_ERRORS as exc:
            self._show_error(str(exc) if isinstance(exc, SluiceError) else f"not submitted: {exc}")
            return
        self.dismiss(run_id)

    def _show_error(self, message: str) -> None:
        self.query_one("#form-error", Static).update(message)

    def action_cancel(self) -> None:
        self.dismiss(None)
