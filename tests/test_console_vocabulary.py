"""The console shows every status scheduler.states defines: a style, a glyph, a legend word, an ending."""

from __future__ import annotations

import pytest
from test_console_support import SIZE, app_for, at, settle, start

from console.tui.format import STATUS_GLYPHS, STATUS_STYLES, status_style
from console.tui.screens.backfill_detail import LEGEND
from console.tui.screens.run_detail import ENDED_ATTEMPT, RunDetailScreen
from console.tui.widgets.log_view import LogView
from scheduler.states import ATTEMPT_ENDED, AttemptStatus, EndReason, EventKind, RunStatus
from scheduler.store import queries as q

pytest_plugins = ("test_console_support",)


@pytest.mark.parametrize("status", [*RunStatus, *AttemptStatus], ids=str)
def test_every_run_and_attempt_status_has_a_style(status: str) -> None:
    assert STATUS_STYLES.get(status), f"{status} has no style in STATUS_STYLES"


@pytest.mark.parametrize("status", list(RunStatus), ids=str)
def test_every_run_status_has_a_grid_glyph_and_a_legend_word(status: RunStatus) -> None:
    assert STATUS_GLYPHS.get(status) and LEGEND.get(status)


def test_the_run_detail_ends_a_log_on_every_ended_attempt_status() -> None:
    assert AttemptStatus.PREEMPTED in ENDED_ATTEMPT
    assert set(ENDED_ATTEMPT) == set(ATTEMPT_ENDED)


async def test_a_preempted_attempts_log_shows_its_end(engine):
    """A drain deadline preempted the attempt and the run went back to the queue: its log has ended."""
    run_id, _ = await engine.submit("hello", {})
    attempt_id = await start(engine, run_id)
    engine.logs.append(run_id, 1, "stdout", 0, b"chunk 1\nchunk 2\n")
    async with engine.db.write() as conn:
        await q.transition_attempt(conn, attempt_id, AttemptStatus.PREEMPTED, reason=EndReason.PREEMPTED.value,
                                   ended_at=at(5))
        await q.transition_run(conn, run_id, RunStatus.QUEUED, at(5), kind=EventKind.ATTEMPT_ENDED, actor="scheduler")
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await app.open_view(f"run {run_id}")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunDetailScreen)
        view = screen.query_one(LogView)
        assert view.ended and view.lines == ["chunk 1", "chunk 2"]
        assert "end of stream" in view.status_text()
        assert status_style(AttemptStatus.PREEMPTED)  # its outcome line is coloured like every other ending
