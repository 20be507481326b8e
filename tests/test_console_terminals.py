"""Every screen renders on the terminals operators have: monochrome (NO_COLOR) and 256 colours (tmux over SSH)."""

from __future__ import annotations

import pytest
from screen_text import screen_text
from test_console_support import app_for, checkpoint, failed_run, settle
from textual import constants
from textual.command import CommandPalette

from console.tui.screens.backfill_detail import BackfillDetailScreen
from console.tui.screens.backfill_launch import BackfillLaunchScreen
from console.tui.screens.backfills import BackfillsScreen
from console.tui.screens.dead_letters import DeadLettersScreen
from console.tui.screens.events import EventsScreen
from console.tui.screens.help import HelpScreen
from console.tui.screens.jobs import JobsScreen
from console.tui.screens.nodes import NodesScreen
from console.tui.screens.overview import OverviewScreen
from console.tui.screens.prompt import PromptScreen
from console.tui.screens.run_detail import RunDetailScreen
from console.tui.screens.runs import RunsScreen

pytest_plugins = ("test_console_support",)


@pytest.fixture(params=["no_color", "256"])
def terminal(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Set up the terminal before the app exists: Textual reads NO_COLOR in App.__init__, the colour system at import."""
    if request.param == "no_color":
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.setenv("TEXTUAL_COLOR_SYSTEM", "256")
        monkeypatch.setattr(constants, "COLOR_SYSTEM", "256")
    return str(request.param)


async def _shows(pilot, keys: tuple[str, ...], screen_type: type, text: str) -> None:
    await pilot.press(*keys)
    await settle(pilot)
    assert isinstance(pilot.app.screen, screen_type), f"{keys}: {pilot.app.screen!r}"
    shown = screen_text(pilot.app)
    assert text in shown, f"{keys}: {text!r} not on screen:\n{shown}"


@pytest.mark.parametrize("size", [(80, 24), (120, 35)])
async def test_every_screen_renders_in_monochrome_and_256_colours(engine, terminal, size):
    run_id = await failed_run(engine)
    await checkpoint(engine, run_id, 1, "row 7", 7, minutes_ago=20)
    plan = await engine.plan_backfill("etl", range_from="2026-11-01", range_to="2026-11-07")
    backfill_id, _ = await engine.create_backfill(plan)
    app = app_for(engine)
    async with app.run_test(size=size) as pilot:
        assert app.no_color is (terminal == "no_color")
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen) and "QUEUE" in screen_text(app)
        await _shows(pilot, ("2",), RunsScreen, "hello")
        await _shows(pilot, ("3",), BackfillsScreen, "etl")
        await _shows(pilot, ("n",), BackfillLaunchScreen, "from")
        await _shows(pilot, ("escape", "4"), DeadLettersScreen, "ValueError: bad row 7")
        await _shows(pilot, ("5",), EventsScreen, "ended")
        await _shows(pilot, ("6",), NodesScreen, "n1")
        await _shows(pilot, ("7",), JobsScreen, "hello")
        await _shows(pilot, ("1",), OverviewScreen, "hello")
        await _shows(pilot, ("question_mark",), HelpScreen, "Everywhere")
        await _shows(pilot, ("escape", "colon"), PromptScreen, ":runs")
        await _shows(pilot, ("escape", "ctrl+p"), CommandPalette, "overview")
        await pilot.press("escape")
        await settle(pilot)
        await app.open_view(f"run {run_id}")
        await _shows(pilot, (), RunDetailScreen, "starting")
        await _shows(pilot, ("a",), RunDetailScreen, "ValueError: bad row 7")
        await _shows(pilot, ("t",), RunDetailScreen, "row 7")
        await _shows(pilot, ("e",), RunDetailScreen, "dispatch")
        await _shows(pilot, ("i",), RunDetailScreen, "echo hello")
        await _shows(pilot, ("v",), RunDetailScreen, "OUTCOME")
        await app.open_view(f"backfill {backfill_id}")
        await _shows(pilot, (), BackfillDetailScreen, "2026-11")
