"""Run detail: summary, progress, checkpoints, the live log (follow, pause, search, streams, huge logs), verbs."""

from __future__ import annotations

from test_console_support import SIZE, app_for, checkpoint, failed_run, finish, progress, settle, start, until

from console.tui.screens.confirm import ConfirmScreen
from console.tui.screens.run_detail import RunDetailScreen
from console.tui.widgets import log_view
from console.tui.widgets.log_view import LogView
from console.tui.widgets.progress_line import ProgressLine
from scheduler.states import RunStatus

pytest_plugins = ("test_console_support",)


async def _open(pilot, run_id: int) -> RunDetailScreen:
    await settle(pilot)
    await pilot.app.open_view(f"run {run_id}")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, RunDetailScreen)
    return screen


def _lines(count: int, start: int = 0) -> bytes:
    return b"".join(b"line %d\n" % number for number in range(start, start + count))


async def test_log_follows_output_as_it_arrives(engine):
    run_id, _ = await engine.submit("hello", {})
    attempt_id = await start(engine, run_id)
    await progress(engine, attempt_id, 45, 100, "rows")
    engine.logs.append(run_id, 1, "stdout", 0, _lines(100))
    app = app_for(engine, poll_interval=0.1)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot, run_id)
        view = screen.query_one(LogView)
        assert view.lines[-1] == "line 99" and view.follow
        assert screen.query_one(ProgressLine).fraction == 0.45
        engine.logs.append(run_id, 1, "stdout", len(_lines(100)), _lines(50, 100))
        await until(pilot, lambda: view.lines[-1] == "line 149", "the appended lines shown")
        await settle(pilot)
        assert view.lines[-1] == "line 149"
        assert view.scroll_y == view.max_scroll_y  # following: the newest line is in view
        await pilot.press("f")  # pause
        size = len(_lines(150))
        engine.logs.append(run_id, 1, "stdout", size, _lines(5, 150))
        await until(pilot, lambda: view.new_lines == 5, "the paused view counting new lines")
        await settle(pilot)
        assert not view.follow and view.new_lines == 5
        assert "+5 new lines" in view.status_text()
        await pilot.press("f")
        await settle(pilot)
        assert view.follow and view.new_lines == 0


async def test_stream_switch_search_and_wrap(engine):
    run_id = await failed_run(engine, stderr=b"warning: one\nValueError: bad row 7\n")
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot, run_id)
        view = screen.query_one(LogView)
        assert view.lines == ["starting", "working"] and view.ended
        await pilot.press("s")
        await settle(pilot)
        assert view.stream == "stderr" and view.lines[-1] == "ValueError: bad row 7"
        await pilot.press("slash", *"bad row", "enter")
        await settle(pilot)
        assert view.matches == [1]
        await pilot.press("w")
        assert view.wrap
        assert "end of stream" in view.status_text()


async def test_huge_finished_log_opens_on_its_tail(engine, monkeypatch):
    monkeypatch.setattr(log_view, "WHOLE_LIMIT", 64 * 1024)
    monkeypatch.setattr(log_view, "TAIL_LINES", 100)
    monkeypatch.setattr(log_view, "HEAD_BYTES", 4096)
    run_id = await failed_run(engine)
    data = _lines(100_000)  # ~1.1 MB: far past the limit, so only the tail is read
    engine.logs.append(run_id, 1, "stdout", 0, data)
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot, run_id)
        view = screen.query_one(LogView)
        assert len(view.lines) == 100 and view.lines[-1] == "line 99999"
        assert view.start_offset == len(data) - len(_lines(100, 99_900))
        await pilot.press("g")  # top: the head is read, not the whole file
        await settle(pilot)
        assert view.lines[0] == "line 0" and view.start_offset == 0 and len(view.lines) < 1000
        await pilot.press("G")
        await settle(pilot)
        assert view.lines[-1] == "line 99999" and view.follow


async def test_detail_shows_checkpoints_attempts_and_why(engine):
    run_id = await failed_run(engine)
    await checkpoint(engine, run_id, 1, "chunk-3", 10, 15)
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot, run_id)
        summary = str(screen.query_one("#summary").render())
        assert "FAILED" in summary and "exit 1" in summary
        await pilot.press("t")
        assert "chunk-3" in str(screen.query_one("#checkpoints-text").render())
        await pilot.press("a")
        await settle(pilot)
        tail = str(screen.query_one("#stderr-tail").render())
        assert "ValueError: bad row 7" in tail


async def test_each_failed_attempt_shows_its_own_stderr_tail(engine):
    run_id = await failed_run(engine, stderr=b"first attempt: disk full\n")
    await engine.retry([run_id])
    attempt_id = await start(engine, run_id, node="n2", minutes_ago=5)
    engine.logs.append(run_id, 2, "stderr", 0, b"second attempt: connection reset\n")
    await finish(engine, run_id, attempt_id, RunStatus.FAILED, 2, minutes_ago=2)
    app = app_for(engine, poll_interval=0.1)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot, run_id)
        await pilot.press("a")
        await settle(pilot)

        def tail() -> str:
            return str(screen.query_one("#stderr-tail").render())

        assert "attempt 2 (exit 2)" in tail() and "connection reset" in tail()  # the latest failure first
        await pilot.press("up")
        await settle(pilot)
        assert "attempt 1 (exit 1)" in tail() and "disk full" in tail() and "connection reset" not in tail()
        await pilot.press("down")
        await settle(pilot)
        assert "connection reset" in tail()


async def test_retry_from_scratch_in_detail_confirms_then_queues(engine):
    run_id = await failed_run(engine)
    await checkpoint(engine, run_id, 1, "chunk-3", 10, 15)
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot, run_id)
        await pilot.press("R")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "from scratch" in app.screen.question
        await pilot.press("y")
        await settle(pilot)
    run = await engine.run(run_id)
    assert run.status == "queued" and run.checkpoint_floor > 0


async def test_a_missing_run_says_so_and_closes(engine):
    app = app_for(engine)
    notes: list[str] = []
    notify = app.notify
    app.notify = lambda message, **options: (notes.append(message), notify(message, **options))[1]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await app.open_view("run 999")
        await settle(pilot)
        assert not isinstance(app.screen, RunDetailScreen)
        assert any("run 999 does not exist" in note for note in notes)
