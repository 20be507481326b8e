"""The Sluice console app: wires the engine, the views and the global keys. Screens hold the rest."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Awaitable, Callable

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive

from scheduler.engine import Engine
from scheduler.errors import SluiceError
from scheduler.home import Home

from ..timefmt import zoned_clock
from .actions import perform
from .palette import VerbCommands, ViewCommands
from .ports import Action, AppPort, EnginePort
from .scheduler_start import await_start, exit_path, lock_holder, log_path, scheduler_command, start_detached
from .screens.backfill_detail import BackfillDetailScreen
from .screens.backfill_launch import BackfillLaunchScreen
from .screens.backfills import BackfillsScreen
from .screens.base import SluiceScreen
from .screens.confirm import ConfirmScreen
from .screens.dead_letters import DeadLettersScreen
from .screens.events import EventsScreen
from .screens.help import HelpScreen
from .screens.jobs import JobsScreen
from .screens.nodes import NodesScreen
from .screens.overview import OverviewScreen
from .screens.prompt import PromptScreen
from .screens.run_detail import RunDetailScreen
from .screens.runs import RunsScreen
from .views import ViewRequest, parse_view

EngineFactory = Callable[[Home], Awaitable[Engine]]
VIEW_KEYS = {"1": "overview", "2": "runs", "3": "backfills", "4": "dead", "5": "events", "6": "nodes", "7": "jobs"}


class SluiceApp(App[int]):
    """Keyboard-first console over one Sluice home."""

    TITLE = "Sluice"
    COMMANDS = App.COMMANDS | {ViewCommands, VerbCommands}
    SCREENS = {"overview": OverviewScreen, "runs": RunsScreen, "backfills": BackfillsScreen,
               "dead": DeadLettersScreen, "events": EventsScreen, "nodes": NodesScreen, "jobs": JobsScreen}
    MODES = {name: name for name in SCREENS}
    BINDINGS = [
        Binding("colon", "view_prompt", "View", key_display=":"),
        Binding("question_mark", "help", "Keys", key_display="?"),
        Binding("escape", "back", "Back", show=False),
        Binding("q", "quit", "Quit", show=False),
        Binding("S", "start_scheduler", "Start scheduler", key_display="S"),
        # The same key while a scheduler holds the lock: hidden from the footer, it says which one runs.
        Binding("S", "scheduler_held", "Start scheduler", key_display="S", show=False),
        Binding("Z", "freeze", "Pause/resume updates", key_display="Z", show=False),
        *[Binding(key, f"view('{view}')", view, show=False) for key, view in VIEW_KEYS.items()],
    ]

    #: Whether a scheduler holds the home's lock (None until first checked).
    scheduler_up: reactive[bool | None] = reactive(None)
    #: Z freezes every view (as htop does) to read a screen that would otherwise keep changing.
    frozen: reactive[bool] = reactive(False)

    def __init__(self, home: Home, *, readonly: bool = False, engine_factory: EngineFactory | None = None,
                 poll_interval: float = 1.0) -> None:
        super().__init__()
        self.home = home
        self.readonly = readonly
        self.poll_interval = poll_interval
        self._engine_factory = engine_factory
        self.scheduler_command = scheduler_command(home)
        self._engine: Engine | None = None  # opened on mount, in the app's loop
        self._show_title()

    async def on_mount(self) -> None:
        try:
            if self._engine_factory is None:
                self._engine = await Engine.open(self.home, readonly=self.readonly, show_time=zoned_clock)
            else:
                self._engine = await self._engine_factory(self.home)
        except SluiceError as exc:
            self.exit(return_code=exc.exit_code, message=f"sluice console: {exc}")
            return
        self.set_interval(self.poll_interval, self._check_scheduler, name="scheduler-presence")
        self._check_scheduler()
        await self.switch_mode("overview")

    async def on_unmount(self) -> None:
        if self._engine_factory is None and self._engine is not None:
            await self._engine.close()

    @property
    def engine(self) -> Engine:
        """The engine over the home, open from mount on."""
        if self._engine is None:
            raise RuntimeError("the console's engine opens when the app mounts")
        return self._engine

    def _check_scheduler(self) -> None:
        self.scheduler_up = self.engine.scheduler_running()

    def watch_scheduler_up(self) -> None:
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "start_scheduler":
            return self.scheduler_up is False and not self.readonly
        if action == "scheduler_held":
            return self.scheduler_up is not False and not self.readonly
        return True

    def action_start_scheduler(self) -> None:
        if self._say_if_held():
            return
        log = log_path(self.home)

        def answered(yes: bool | None) -> None:
            if yes:
                self._start_scheduler()

        self.push_screen(ConfirmScreen(
            f"Start a scheduler for this home in the background?\n\nIt dispatches queued runs and keeps running "
            f"after you quit the console (stop it with kill PID). Its output goes to {log}.", "Start scheduler"),
            answered)

    def action_scheduler_held(self) -> None:
        self.action_start_scheduler()

    def _say_if_held(self) -> bool:
        """Say which scheduler holds the home's lock, if one does (S then starts nothing)."""
        holder = lock_holder(self.home.lock_path)
        if holder is not None:
            self.notify(f"a scheduler is already running (pid {holder})", severity="warning")
        self._check_scheduler()
        return holder is not None

    @work(group="scheduler-start", exclusive=True)
    async def _start_scheduler(self) -> None:
        """Start a scheduler, then say so only once it holds the lock, or why it exited (off the UI path)."""
        if self.readonly or self._say_if_held():
            return
        log = log_path(self.home)
        offset = log.stat().st_size if log.exists() else 0
        try:
            pid = await asyncio.to_thread(start_detached, self.scheduler_command, log, exit_path(self.home))
        except (OSError, subprocess.CalledProcessError) as exc:
            self.notify(f"could not start a scheduler: {exc}", severity="error")
            return
        outcome = await await_start(self.home, pid, offset)
        self._check_scheduler()
        self.notify(outcome.message, severity=outcome.severity)

    # --- views --------------------------------------------------------------------------------------------

    async def action_view(self, view: str) -> None:
        await self.open_view(view)

    def action_view_prompt(self) -> None:
        hint = (":runs [status…] [job=… queue=… node=… backfill=…]  :overview  :backfills  :dead  :events  :nodes  "
                ":jobs  :ID (a run)")

        def chosen(text: str | None) -> None:
            if text:
                self.call_later(self.open_view, text)

        self.push_screen(PromptScreen(":", hint), chosen)

    async def open_view(self, text: str) -> None:
        """Switch to the view named by `text` (as typed after `:`), applying its scope."""
        try:
            request = parse_view(text)
        except ValueError as exc:
            self.notify(str(exc), severity="warning")
            return
        await self._open(request)

    async def _open(self, request: ViewRequest) -> None:
        if request.view == "run":
            await self.push_screen(RunDetailScreen(request.target or 0))
            return
        mode = "backfills" if request.view == "backfill" else request.view
        await self.switch_mode(mode)
        while len(self.screen_stack) > 1:
            await self.pop_screen()
        if request.view == "runs":
            self.get_screen("runs", RunsScreen).apply_filter(request.run_filter)
        elif request.view == "backfill":
            await self.push_screen(BackfillDetailScreen(request.target or 0))

    def open_run(self, run_id: int, tab: str = "log") -> None:
        self.push_screen(RunDetailScreen(run_id, tab=tab))

    def open_backfill(self, backfill_id: int, *, replace: bool = False) -> None:
        screen = BackfillDetailScreen(backfill_id)
        if replace:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def open_backfill_launch(self) -> None:
        self.push_screen(BackfillLaunchScreen())

    def back(self) -> None:
        """Leave a detail screen (a no-op on a view's own screen)."""
        if len(self.screen_stack) > 1:
            self.pop_screen()

    def action_help(self) -> None:
        screen = self.screen
        if isinstance(screen, SluiceScreen):
            self.push_screen(HelpScreen(screen.VIEW_TITLE, screen.help_keys(), self.readonly))

    def action_freeze(self) -> None:
        self.frozen = not self.frozen
        self._show_title()
        if not self.frozen and isinstance(self.screen, SluiceScreen):
            self.screen.poll()

    def _show_title(self) -> None:
        marks = [mark for mark, on in (("read-only", self.readonly), ("updates paused: Z", self.frozen)) if on]
        self.title = "Sluice" + (f" ({', '.join(marks)})" if marks else "")

    # --- actions ------------------------------------------------------------------------------------------

    def confirm(self, question: str, action: Action, label: str = "Yes") -> None:
        """Ask, and run `action` through the engine only on yes."""
        if self.readonly:
            self.notify("read-only console: nothing was changed", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.do_action(action)

        self.push_screen(ConfirmScreen(question, label), answered)

    @work(group="actions")
    async def do_action(self, action: Action) -> None:
        """Run an engine action off the UI path; its outcome or error becomes a notification."""
        if self.readonly:
            self.notify("read-only console: nothing was changed", severity="warning")
            return
        message, severity = await perform(action)
        self.notify(message, severity=severity)
        screen = self.screen
        if isinstance(screen, SluiceScreen):
            screen.poll()


def _implements_ports(app: SluiceApp, engine: Engine) -> tuple[AppPort, EnginePort]:
    """Never called: here mypy checks that the concrete app and engine implement the ports screens use."""
    return app, engine


def create_app(home: Home, *, readonly: bool = False, engine_factory: EngineFactory | None = None,
               poll_interval: float = 1.0) -> SluiceApp:
    """The console for `home`; tests pass an engine factory (fixed clock, shared engine) and a short interval."""
    return SluiceApp(home, readonly=readonly, engine_factory=engine_factory, poll_interval=poll_interval)


def run_console(home: Home, readonly: bool = False) -> int:
    """Run the console until the operator quits; returns the exit status."""
    app = create_app(home, readonly=readonly)
    app.run()
    return app.return_code or 0
