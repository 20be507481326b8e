"""The log view's tools: timestamps (when each line reached the bastion), marker lines dimmed, hidden or shown,
and saving the shown stream to a file byte for byte."""

from __future__ import annotations

import asyncio
from pathlib import Path

from harness import SluiceHome
from test_console_support import SIZE, app_for, settle, start, until

from console.timefmt import shown
from console.tui.app import SluiceApp, create_app
from console.tui.screens.prompt import PromptScreen
from console.tui.screens.run_detail import RunDetailScreen
from console.tui.widgets import log_save
from console.tui.widgets.log_view import LogView
from scheduler.engine import Engine
from scheduler.logstore import LogStore
from scheduler.models import Arrival

pytest_plugins = ("test_console_support",)

#: Two lines, then it waits for the test's gate file, then two more: the halves reach the bastion apart.
TWO_HALVES = ('command = "echo first one; echo first two; while [ ! -e {gate} ]; do sleep 0.05; done; '
              'echo second one; echo second two"\n')


async def _open(pilot, run_id: int) -> tuple[RunDetailScreen, LogView]:
    await settle(pilot)
    await pilot.app.open_view(f"run {run_id}")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, RunDetailScreen)
    return screen, screen.query_one(LogView)


def _row_of(view: LogView, text: str) -> int:
    """The screen row (0 = top of the view) showing the line that ends with `text`."""
    for y in range(view.size.height):
        if view.render_line(y).text.rstrip().endswith(text):
            return y
    raise AssertionError(f"{text!r} not on screen: {[view.render_line(y).text for y in range(view.size.height)]}")


def _watch_notifications(app: SluiceApp) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    original = app.notify

    def notify(message: str, *args: object, **kwargs: object) -> None:
        seen.append((str(message), str(kwargs.get("severity", "information"))))
        original(message, *args, **kwargs)  # type: ignore[arg-type]

    app.notify = notify  # type: ignore[method-assign]
    return seen


def test_a_chunk_written_again_after_a_crash_supersedes_its_arrival(tmp_path: Path) -> None:
    logs = LogStore(tmp_path)
    logs.append(1, 1, "stdout", 0, b"one\n", "2026-11-23T10:00:00Z")
    logs.append(1, 1, "stdout", 4, b"two\n", "2026-11-23T10:00:05Z")
    logs.append(1, 1, "stdout", 4, b"two\nthree\n", "2026-11-23T10:00:09Z")  # offset 8 was never committed
    arrivals, end = logs.arrivals(1, 1, "stdout")
    assert arrivals == [Arrival(0, "2026-11-23T10:00:00Z"), Arrival(4, "2026-11-23T10:00:09Z")]
    assert logs.arrivals(1, 1, "stdout", end) == ([], end)  # read on from where the last read stopped


async def test_timestamps_toggle_shows_when_each_line_reached_the_bastion(local_fleet, tmp_path):
    cluster = SluiceHome(tmp_path, local_fleet.nodes_toml(slots=2, workdir=str(tmp_path / "workers")))
    gate = tmp_path / "gate"
    cluster.add_job("halves", TWO_HALVES.format(gate=gate))
    await cluster.start_scheduler()
    engine = await Engine.open(cluster.home)
    try:
        run_id, _ = await engine.submit("halves", {})

        async def factory(home):
            return engine

        app = create_app(cluster.home, engine_factory=factory, poll_interval=0.1)
        async with app.run_test(size=SIZE) as pilot:
            screen, view = await _open(pilot, run_id)
            await until(pilot, lambda: "first two" in view.lines, "the first half shown")
            gate.touch()
            await until(pilot, lambda: "second two" in view.lines and view.ended, "the whole stream shown")
            first = _row_of(view, "first one")
            assert view.render_line(first).text.startswith("first one")  # no prefix until asked
            view.focus()
            await pilot.press("T")
            await until(pilot, lambda: len(view.arrivals) >= 2, "the arrivals read")
            await settle(pilot)
            arrivals, _ = engine.log_arrivals(run_id, 1, "stdout")
            assert len(arrivals) >= 2  # the two halves came in separate chunks
            data = engine.read_log(run_id, 1, "stdout")
            for text in ("first one", "second two"):
                end = data.index(text.encode()) + len(text) + 1
                at = [arrival.at for arrival in arrivals if arrival.offset < end][-1]
                drawn = view.render_line(_row_of(view, text)).text
                assert drawn.startswith(shown(at, "clock") + " "), drawn
            assert "timestamps" in screen.query_one("#log-status").render().plain
            await pilot.press("T")
            await settle(pilot)
            assert view.render_line(_row_of(view, "first one")).text.startswith("first one")
    finally:
        await cluster.stop_scheduler()
        await engine.close()
        await asyncio.sleep(0)


async def test_marker_lines_cycle_between_dimmed_hidden_and_shown(engine):
    run_id, _ = await engine.submit("hello", {})
    await start(engine, run_id)
    body = b"".join(b"line %d\n::progress:: %d/40 rows\n" % (n, n) for n in range(40)) + b"::checkpoint:: c9\nlast\n"
    engine.logs.append(run_id, 1, "stdout", 0, body)
    app = app_for(engine, poll_interval=0.1)
    async with app.run_test(size=SIZE) as pilot:
        screen, view = await _open(pilot, run_id)
        status = screen.query_one("#log-status")
        await pilot.press("g")
        await settle(pilot)
        marker_row = _row_of(view, "::progress:: 0/40 rows")
        assert any(segment.style and segment.style.dim for segment in view.render_line(marker_row))
        assert view.virtual_size.height == 82

        await pilot.press("m")
        await settle(pilot)
        assert view.markers == "hidden" and "markers hidden" in status.render().plain
        assert view.virtual_size.height == 41  # rows only for the lines shown
        assert [view.render_line(y).text.rstrip() for y in range(3)] == ["line 0", "line 1", "line 2"]
        await pilot.press("G")
        await settle(pilot)
        assert view.render_line(view.size.height - 1).text.rstrip() == "last"  # the end is in reach
        await pilot.press("slash", *"line 39", "enter")
        await settle(pilot)
        assert any(view.render_line(y).text.rstrip() == "line 39" for y in range(view.size.height))
        await pilot.press("up")  # paused, somewhere in the middle
        await settle(pilot)
        top = view.render_line(0).text.rstrip()
        assert top.startswith("line ")

        await pilot.press("m")
        await settle(pilot)
        assert view.markers == "shown" and "markers shown" in status.render().plain
        assert view.virtual_size.height == 82
        assert view.render_line(0).text.rstrip() == top  # the line at the top stays there
        await pilot.press("G")
        await settle(pilot)
        row = _row_of(view, "::checkpoint:: c9")
        assert not any(segment.style and segment.style.dim for segment in view.render_line(row))

        await pilot.press("m")
        await settle(pilot)
        assert view.markers == "dimmed" and "markers dimmed" in status.render().plain

        await pilot.press("m", "T", "w")  # hidden, with timestamps, wrapped: rows still map onto the lines shown
        await settle(pilot)
        assert view.markers == "hidden" and view.timestamps and view.wrap
        drawn = [view.render_line(y).text for y in range(view.size.height)]
        assert not any("::progress::" in row for row in drawn)
        assert all(row.startswith("-") for row in drawn if row.strip())  # appended with no arrival noted


async def test_save_writes_the_stored_stream_byte_for_byte_and_says_how_much(engine, tmp_path, monkeypatch):
    monkeypatch.setattr(log_save, "CHUNK", 7)  # several reads, so the chunks must join up exactly
    monkeypatch.chdir(tmp_path)
    run_id, _ = await engine.submit("hello", {})
    await start(engine, run_id)
    stored = b"plain line\r\n\x00\xff\xfe not utf-8\n\ttabbed\x1b[31m red\nno newline at the end"
    engine.logs.append(run_id, 1, "stdout", 0, stored)
    app = app_for(engine, poll_interval=0.1)
    seen = _watch_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot, run_id)
        await pilot.press("W")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen), "the save prompt")
        await settle(pilot)
        await pilot.press("enter")  # the default: the current directory
        target = tmp_path / f"sluice-run-{run_id}-attempt-1-stdout.log"
        await until(pilot, lambda: any(text.startswith("saved") for text, _ in seen), "the save reported")
        assert target.read_bytes() == stored
        assert (f"saved {len(stored):,} bytes to {target}", "information") in seen


async def test_save_to_an_unwritable_path_says_why_and_writes_nothing(engine, tmp_path):
    run_id, _ = await engine.submit("hello", {})
    await start(engine, run_id)
    engine.logs.append(run_id, 1, "stdout", 0, b"some output\n")
    app = app_for(engine, poll_interval=0.1)
    seen = _watch_notifications(app)
    target = tmp_path / "no such folder" / "out.log"
    async with app.run_test(size=SIZE) as pilot:
        screen, view = await _open(pilot, run_id)
        await pilot.press("W")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen), "the save prompt")
        prompt = app.screen
        prompt.query_one("Input").value = str(target)
        await pilot.press("enter")
        await until(pilot, lambda: any(severity == "error" for _, severity in seen), "the error shown")
        assert seen == [(f"cannot save to {target}: No such file or directory", "error")]
        assert not target.parent.exists()
        assert app.screen is screen and view.lines == ["some output"]


async def test_help_and_footer_list_the_log_tools(engine):
    run_id, _ = await engine.submit("hello", {})
    await start(engine, run_id)
    engine.logs.append(run_id, 1, "stdout", 0, b"output\n")
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen, view = await _open(pilot, run_id)
        assert view.has_focus
        keys = dict(screen.help_keys())
        assert keys["T"] == "Timestamps" and keys["m"] == "Markers dim/hide/show" and keys["W"] == "Save log to a file"
        footer = {binding.key for _, binding, enabled, _ in screen.active_bindings.values() if binding.show and enabled}
        assert {"T", "m", "W"} <= footer
