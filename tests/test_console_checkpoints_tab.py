"""The checkpoints tab: newest first, so the one a retry resumes from is in view, and it scrolls from the keyboard."""

from __future__ import annotations

from screen_text import screen_text
from test_console_support import app_for, checkpoint, failed_run, settle
from textual.containers import VerticalScroll

from console.tui.screens.run_detail import RunDetailScreen

pytest_plugins = ("test_console_support",)

CHECKPOINTS = 60


async def _run_with_checkpoints(engine) -> int:
    run_id = await failed_run(engine)
    for number in range(CHECKPOINTS):
        await checkpoint(engine, run_id, 1, f"chunk-{number}", number * 100, minutes_ago=30 - number * 0.25)
    return run_id


async def test_checkpoints_list_newest_first_with_the_resume_point_in_view(engine):
    run_id = await _run_with_checkpoints(engine)
    app = app_for(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await app.open_view(f"run {run_id}")
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        shown = screen_text(app)
        assert f"chunk-{CHECKPOINTS - 1}" in shown and "a retry resumes here" in shown
        assert "chunk-0 " not in shown  # the oldest is at the bottom, off screen
        text = str(app.screen.query_one("#checkpoints-text").render())
        assert text.index(f"chunk-{CHECKPOINTS - 1}") < text.index("chunk-0 ")


async def test_checkpoints_tab_scrolls_from_the_keyboard_when_it_opens(engine):
    run_id = await _run_with_checkpoints(engine)
    app = app_for(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await app.open_view(f"run {run_id}")
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        scroll = app.screen.query_one("#checkpoints-scroll", VerticalScroll)
        assert app.focused is scroll
        await pilot.press("end")
        await settle(pilot)
        assert scroll.scroll_y == scroll.max_scroll_y > 0
        assert "chunk-0 " in screen_text(app)


async def test_checkpoints_tab_opened_directly_has_the_focus(engine):
    run_id = await _run_with_checkpoints(engine)
    app = app_for(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_run(run_id, tab="checkpoints")
        await settle(pilot)
        assert isinstance(app.screen, RunDetailScreen)
        assert app.focused is app.screen.query_one("#checkpoints-scroll", VerticalScroll)
