"""A one-line warning shown while no scheduler holds the home's lock: runs will not start or end."""

from __future__ import annotations

from textual.widgets import Static

from ..ports import app_port

NO_SCHEDULER = "No scheduler running: queued runs will not start. Press S to start one."
NO_SCHEDULER_READONLY = "No scheduler running: queued runs will not start. Start one: sluice scheduler"


class SchedulerBanner(Static):
    """Visible only while the app's `scheduler_up` is False."""

    DEFAULT_CSS = """
    SchedulerBanner { height: auto; background: $warning 40%; color: $text; padding: 0 1; display: none; }
    SchedulerBanner.-shown { display: block; }
    """

    def __init__(self) -> None:
        super().__init__(NO_SCHEDULER, markup=False)

    def on_mount(self) -> None:
        if app_port(self.app).readonly:
            self.update(NO_SCHEDULER_READONLY)
        self.watch(self.app, "scheduler_up", self._show, init=True)

    def _show(self, running: bool | None) -> None:
        self.set_class(running is False, "-shown")
