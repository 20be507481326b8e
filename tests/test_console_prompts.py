"""One-line prompts (`:`, `m`, `P`, `/`) show what the operator types, at 80x24 and 120x35."""

from __future__ import annotations

import pytest
from screen_text import screen_lines
from test_console_support import app_for, failed_run, settle
from textual.widgets import Input

from console.tui.screens.backfills import BackfillsScreen
from console.tui.screens.prompt import PromptScreen
from console.tui.screens.run_detail import RunDetailScreen
from console.tui.screens.runs import RunsScreen

pytest_plugins = ("test_console_support",)

SIZES = [(80, 24), (120, 35)]


async def _typed_text_is_shown(pilot, typed: str) -> None:
    """Type into the focused Input and read its row on the rendered screen."""
    await pilot.press(*typed)
    await settle(pilot)
    field = pilot.app.focused
    assert isinstance(field, Input) and field.value.endswith(typed)
    region = field.content_region
    assert region.height >= 1, f"the input has no room for a line of text: {region}"
    row = screen_lines(pilot.app)[region.y]
    assert typed in row, f"{typed!r} not shown on the input's row {region.y}: {row!r}"


@pytest.mark.parametrize("size", SIZES)
async def test_view_prompt_shows_the_typed_view(engine, size):
    app = app_for(engine)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("colon")
        await settle(pilot)
        assert isinstance(app.screen, PromptScreen)
        await _typed_text_is_shown(pilot, "runs failed")


@pytest.mark.parametrize("size", SIZES)
async def test_max_parallel_prompt_shows_the_typed_number(engine, size):
    plan = await engine.plan_backfill("etl", range_from="2026-11-01", range_to="2026-11-07")
    await engine.create_backfill(plan)
    app = app_for(engine)
    async with app.run_test(size=size) as pilot:
        await pilot.press("3")
        await settle(pilot)
        assert isinstance(app.screen, BackfillsScreen)
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, PromptScreen)
        await _typed_text_is_shown(pilot, "93")


@pytest.mark.parametrize("size", SIZES)
async def test_priority_prompt_shows_the_typed_number(engine, size):
    await engine.submit("hello", {})
    app = app_for(engine)
    async with app.run_test(size=size) as pilot:
        await pilot.press("2")
        await settle(pilot)
        assert isinstance(app.screen, RunsScreen)
        await pilot.press("P")
        await settle(pilot)
        assert isinstance(app.screen, PromptScreen)
        await _typed_text_is_shown(pilot, "-865")


@pytest.mark.parametrize("size", SIZES)
async def test_runs_filter_and_log_search_show_the_typed_text(engine, size):
    run_id = await failed_run(engine)
    app = app_for(engine)
    async with app.run_test(size=size) as pilot:
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("slash")
        await _typed_text_is_shown(pilot, "job=hello")
        await pilot.press("escape")
        await app.open_view(f"run {run_id}")
        await settle(pilot)
        assert isinstance(app.screen, RunDetailScreen)
        await pilot.press("slash")
        await _typed_text_is_shown(pilot, "bad row")
