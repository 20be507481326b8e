"""The runs view: filters, view switching, tagging and the verbs, checked in the store afterwards."""

from __future__ import annotations

from test_console_support import SIZE, app_for, at, failed_run, settle, start, until

from console.tui.screens.confirm import ConfirmScreen
from console.tui.screens.help import HelpScreen
from console.tui.screens.run_detail import RunDetailScreen
from console.tui.screens.runs import RunsScreen
from scheduler.engine import os_user
from scheduler.store import queries as q

pytest_plugins = ("test_console_support",)


async def _runs_screen(pilot) -> RunsScreen:
    await pilot.press("2")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, RunsScreen)
    return screen


async def _move_to(pilot, screen: RunsScreen, run_id: int) -> None:
    ids = [run.id for run in screen.table.window]
    await pilot.press(*["down"] * ids.index(run_id))
    assert screen.table.cursor_id == run_id


async def test_retry_on_a_failed_run_queues_it_as_the_os_user(engine):
    failed = await failed_run(engine)
    await engine.submit("hello", {})
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _runs_screen(pilot)
        await _move_to(pilot, screen, failed)
        await pilot.press("r")
        await settle(pilot)
        run = await engine.run(failed)
        assert run.status == "queued"
        retry = [event for event in (await engine.run_detail(failed)).events if event.kind == "retry"]
        assert len(retry) == 1 and retry[0].actor == os_user()
        assert screen.table.cursor_id == failed  # the cursor stays on the run, not the row


async def test_filter_as_you_type_and_escape_clears_it(engine):
    failed = await failed_run(engine)
    for _ in range(3):
        await engine.submit("hello", {})
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _runs_screen(pilot)
        assert len(screen.table.window) == 4
        await pilot.press("slash", *"failed")
        await until(pilot, lambda: [run.id for run in screen.table.window] == [failed], "the filtered runs")
        await settle(pilot)
        assert [run.id for run in screen.table.window] == [failed]
        await pilot.press("enter", "escape")
        await settle(pilot)
        assert len(screen.table.window) == 4
        await pilot.press("o")  # oldest first, still keyset-paged
        await settle(pilot)
        assert [run.id for run in screen.table.window] == [1, 2, 3, 4] and screen.table.cursor_id == 1


async def test_colon_switches_view_with_a_scope(engine):
    failed = await failed_run(engine)
    await engine.submit("hello", {})
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"runs failed", "enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        assert [run.id for run in screen.table.window] == [failed]
        await pilot.press("d")  # describe the run under the cursor
        await settle(pilot)
        assert isinstance(app.screen, RunDetailScreen) and app.screen.run_id == failed
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen


async def test_tagged_runs_are_cancelled_together_after_confirmation(engine):
    ids = [(await engine.submit("hello", {}))[0] for _ in range(3)]
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _runs_screen(pilot)
        await pilot.press("space", "space")  # tags the two newest (space moves down)
        assert screen.table.tagged == {ids[2], ids[1]}
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "2 runs" in app.screen.question
        await pilot.press("y")
        await settle(pilot)
        statuses = [(await engine.run(run_id)).status for run_id in ids]
        assert statuses == ["queued", "cancelled", "cancelled"]


async def test_declining_the_confirmation_changes_nothing(engine):
    run_id, _ = await engine.submit("hello", {})
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _runs_screen(pilot)
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert (await engine.run(run_id)).status == "queued"


async def test_readonly_refuses_every_verb(engine):
    failed = await failed_run(engine)
    app = app_for(engine, readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _runs_screen(pilot)
        assert "r" not in {key for key, active in screen.active_bindings.items() if active.enabled}
        await pilot.press("r", "R", "c")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert (await engine.run(failed)).status == "failed"


async def test_help_lists_the_keys_of_the_screen(engine):
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _runs_screen(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        descriptions = {description for _, description in app.screen.keys}
        assert {"Retry", "Cancel", "Filter", "Tag"} <= descriptions and "Kill" not in descriptions
        await pilot.press("escape")


async def test_a_running_run_whose_node_is_unreachable_says_so_in_the_table_and_detail(engine):
    run_id, _ = await engine.submit("hello", {})
    await start(engine, run_id, node="n1")
    async with engine.db.write() as conn:
        await q.set_node_health(conn, "n1", "down", "connection refused", at(5))
    expected = (f"node n1 unreachable since {at(5)[11:19]} UTC, the job keeps running there "
                f"(given up at {at(-5)[11:19]} UTC)")  # no lease recorded: the default, 10 minutes
    app = app_for(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await _runs_screen(pilot)
        assert screen.table.reasons.get(run_id) == expected
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(pilot.app.screen, RunDetailScreen)
        assert expected in str(pilot.app.screen.query_one("#summary").render())
