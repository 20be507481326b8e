"""The command palette offers the shown screen's verbs, with their keys, and runs them as the keys would."""

from __future__ import annotations

from test_console_support import SIZE, app_for, failed_run, settle, until
from textual.command import CommandPalette
from textual.widgets import DataTable, OptionList

from console.tui.screens.confirm import ConfirmScreen
from console.tui.screens.overview import OverviewScreen
from console.tui.screens.runs import RunsScreen
from scheduler.states import RunStatus

pytest_plugins = ("test_console_support",)


def _hits(pilot) -> list[str]:
    """The prompts of the palette's hits as shown, best first (name and help)."""
    palette = pilot.app.screen
    assert isinstance(palette, CommandPalette)
    options = palette.query_one(OptionList)
    return [str(options.get_option_at_index(index).prompt) for index in range(options.option_count)]


async def _palette(pilot, query: str) -> list[str]:
    await pilot.press("ctrl+p")
    await until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette), "the palette opens")
    await pilot.press(*query)
    await until(pilot, lambda: any(query in hit for hit in _hits(pilot)), f"a hit for {query!r}")
    await settle(pilot)
    return _hits(pilot)


async def test_retry_from_the_palette_queues_the_failed_run_under_the_cursor(engine):
    run_id = await failed_run(engine)
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.table.cursor_id == run_id,
                    "the failed run under the cursor")
        hits = await _palette(pilot, "retry")
        assert "retry the selected runs from their latest checkpoints (r)" in hits[0]
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)  # as with `r`, one run is retried without asking
        for _ in range(100):
            if (await engine.run(run_id)).status == RunStatus.QUEUED:
                break
            await settle(pilot)
        assert (await engine.run(run_id)).status == RunStatus.QUEUED


async def test_pause_from_the_palette_pauses_the_queue_under_the_cursor_on_the_overview(engine):
    await engine.submit("hello", {})
    await engine.submit("etl", {"day": "2026-11-01"})
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        await pilot.press("tab", "down")  # from the run board to the queues, then default
        assert app.screen.query_one("#queues", DataTable).cursor_row == 1
        hits = await _palette(pilot, "pause")
        assert "pause or resume the queue under the cursor (p)" in hits[0]
        assert any("freeze or thaw every view (Z)" in hit for hit in hits)  # app-wide verbs are offered too
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the pause confirmation")
        assert "Pause queue default" in app.screen.question
        await pilot.press("y")
        await settle(pilot)
        for _ in range(100):
            if {queue.name: queue.paused for queue in await engine.queues()}.get("default"):
                break
            await settle(pilot)
        assert {queue.name: queue.paused for queue in await engine.queues()} == {"batch": False, "default": True}


async def test_the_readonly_palette_offers_no_verb_that_changes_anything(engine):
    await failed_run(engine)
    app = app_for(engine, readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot)
        hits = await _palette(pilot, "r")
        assert not any("(r)" in hit or "retry" in hit for hit in hits), hits
        assert any("reverse the order of the runs (o)" in hit for hit in hits)  # the reading verbs stay
        await pilot.press("escape")
        await pilot.press("1")
        await settle(pilot)
        hits = await _palette(pilot, "pause")
        assert not any("queue" in hit or "scheduler" in hit for hit in hits), hits
