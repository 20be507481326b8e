"""Several consoles and CLI users on one home see each other's changes at their next poll.

Each console here has its own Engine on the same home (as two operators in two terminals would); the CLI is an
Engine the test drives directly. The tests wait in Pilot pauses until the change is shown and assert on what the
screen shows, never on how long it took."""

from __future__ import annotations

from collections.abc import Callable

from test_console_support import SIZE, failed_run, fixed_clock, settle

from console.tui.app import SluiceApp, create_app
from console.tui.screens.confirm import ConfirmScreen
from console.tui.screens.run_detail import RunDetailScreen
from console.tui.screens.runs import RunsScreen
from console.tui.widgets.runs_table import RunsTable
from scheduler.engine import Engine
from scheduler.home import Home

pytest_plugins = ("test_console_support",)

POLL = 0.1
#: Pauses of 0.05 s allowed for a change to show up; a bound on the loop, not a timing assertion.
ROUNDS = 100


def console(home: Home, actor: str, opened: list[Engine]) -> SluiceApp:
    """A console with its own Engine on `home`, acting as `actor`."""

    async def factory(home: Home) -> Engine:
        engine = await Engine.open(home, clock=fixed_clock, actor=actor)
        opened.append(engine)
        return engine

    return create_app(home, engine_factory=factory, poll_interval=POLL)


async def until(pilot, shown: Callable[[], bool]) -> None:
    for _ in range(ROUNDS):
        if shown():
            return
        await pilot.pause(0.05)
    assert shown(), "the change never showed up"


async def runs_screen(pilot) -> RunsTable:
    await settle(pilot)
    await pilot.press("2")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, RunsScreen)
    await until(pilot, lambda: screen.table.loaded_once)
    return screen.table


def row_shown(table: RunsTable, run_id: int) -> str:
    """The text the runs table draws for `run_id`'s row ("" when the run is not in view)."""
    index = next((index for index, run in enumerate(table.window) if run.id == run_id), None)
    if index is None or not table.scroll_y <= index < table.scroll_y + table.size.height:
        return ""
    return "".join(segment.text for segment in table.render_line(index - int(table.scroll_y)))


async def test_a_retry_and_a_cancel_in_one_console_show_in_another(home):
    async with await Engine.open(home, clock=fixed_clock) as setup:
        failed = await failed_run(setup)
    opened: list[Engine] = []
    app_a, app_b = console(home, "alice", opened), console(home, "bob", opened)
    try:
        async with app_a.run_test(size=SIZE) as pilot_a, app_b.run_test(size=SIZE) as pilot_b:
            table_a, table_b = await runs_screen(pilot_a), await runs_screen(pilot_b)
            assert " failed " in row_shown(table_b, failed)
            assert table_a.cursor_id == failed
            await pilot_a.press("r")
            await until(pilot_b, lambda: " queued " in row_shown(table_b, failed))
            assert "ready" in row_shown(table_b, failed)  # B also shows why it waits

            await pilot_a.press("c")
            await until(pilot_a, lambda: isinstance(app_a.screen, ConfirmScreen))
            await pilot_a.press("y")
            await until(pilot_b, lambda: " cancelled " in row_shown(table_b, failed))
            events = await app_b.engine.events(10, kind="cancelled")
            assert [event.actor for event in events] == ["alice"]  # done by A, recorded as A's user
    finally:
        for engine in opened:
            await engine.close()


async def test_a_cli_change_shows_in_an_open_console(home):
    async with await Engine.open(home, clock=fixed_clock) as setup:
        failed = await failed_run(setup)
    opened: list[Engine] = []
    app = console(home, "bob", opened)
    cli = await Engine.open(home, clock=fixed_clock, actor="carol")
    try:
        async with app.run_test(size=SIZE) as pilot:
            table = await runs_screen(pilot)
            submitted, _ = await cli.submit("hello", {})
            await until(pilot, lambda: " queued " in row_shown(table, submitted))
            await cli.retry([failed])
            await until(pilot, lambda: " queued " in row_shown(table, failed))

            await app.open_view(f"run {failed}")
            screen = app.screen
            assert isinstance(screen, RunDetailScreen)
            summary = lambda: str(screen.query_one("#summary").render())  # noqa: E731
            await until(pilot, lambda: "QUEUED" in summary())
            await cli.cancel([failed], reason="wrong input file")
            await until(pilot, lambda: "CANCELLED" in summary())
            await pilot.press("e")
            events = screen.query_one("#events-table")
            await until(pilot, lambda: any("carol" in str(cell) for cell in events.get_column_at(3)))
    finally:
        await cli.close()
        for engine in opened:
            await engine.close()
