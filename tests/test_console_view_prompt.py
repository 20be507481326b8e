"""`:` with a bare run id opens that run, as the help says; the help's text is shown, never its markup."""

from __future__ import annotations

import re

from screen_text import screen_text
from test_console_support import app_for, failed_run, finish, settle, start
from textual.widgets import Static

from console.tui.screens.help import HelpScreen
from console.tui.screens.run_detail import RunDetailScreen
from console.tui.views import parse_view
from scheduler.states import RunStatus

pytest_plugins = ("test_console_support",)


def test_a_bare_number_after_colon_names_a_run():
    assert parse_view("6").view == "run" and parse_view("6").target == 6
    assert parse_view(":run 6").target == 6


async def test_colon_run_id_opens_that_runs_detail(engine):
    run_ids = [(await engine.submit("hello", {}))[0] for _ in range(6)]
    app = app_for(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("colon", *str(run_ids[-1]), "enter")
        await settle(pilot)
        assert isinstance(app.screen, RunDetailScreen) and app.screen.run_id == run_ids[-1]
        assert f"run {run_ids[-1]}" in screen_text(app)


async def test_help_shows_keys_as_text_without_markup(engine):
    run_id = await failed_run(engine)
    await engine.retry([run_id])
    attempt_id = await start(engine, run_id, minutes_ago=5)
    await finish(engine, run_id, attempt_id, RunStatus.FAILED, 1, minutes_ago=1)
    app = app_for(engine)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await app.open_view(f"run {run_id}")
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        shown = screen_text(app)
        assert "[/b]" not in shown and "[b]" not in shown
        # The whole help (it scrolls once the screen's keys outgrow the terminal), as rendered text.
        help_text = str(app.screen.query_one(Static).render())
        assert "Previous attempt" in help_text and "Everywhere" in help_text
        assert re.search(r"\[ +Previous attempt", help_text), help_text  # the `[` key itself, not markup
        assert "[/b]" not in help_text and "runs [status…]" in help_text and ":ID" in help_text
