"""`S` in the console: it says which scheduler already runs, says "started" only once the new one holds the
home's lock, and reports a scheduler that exits at once with its exit code and last line."""

from __future__ import annotations

import asyncio
import os
import signal

from test_console_support import SIZE, app_for, settle, until

from console.tui.scheduler_start import lock_holder, log_path, scheduler_command
from console.tui.screens.confirm import ConfirmScreen

pytest_plugins = ("test_console_support",)


def _record_notifications(app) -> list[tuple[str, str, str | None]]:
    """(message, severity, lock holder at that moment) of every notification the app shows."""
    seen: list[tuple[str, str, str | None]] = []
    notify = app.notify

    def recording(message: str, *args: object, **options: object) -> None:
        seen.append((message, str(options.get("severity", "information")), lock_holder(app.home.lock_path)))
        notify(message, *args, **options)

    app.notify = recording
    return seen


def _about_the_scheduler(seen: list[tuple[str, str, str | None]]) -> list[tuple[str, str, str | None]]:
    return [note for note in seen if note[0].startswith(("the scheduler", "scheduler started"))]


async def _stop(engine) -> None:
    """SIGTERM the scheduler holding the home's lock (the holder writes its pid into the lock file)."""
    holder = lock_holder(engine.home.lock_path)
    for _ in range(200):  # one the console started may still be importing when a test fails early
        if holder is not None and holder.isdigit():
            break
        await asyncio.sleep(0.05)
        holder = lock_holder(engine.home.lock_path)
    if holder is None or not holder.isdigit():
        return
    os.kill(int(holder), signal.SIGTERM)
    for _ in range(200):
        if not engine.scheduler_running():
            return
        await asyncio.sleep(0.05)


async def test_s_with_a_scheduler_running_says_which_and_starts_nothing(engine):
    scheduler = await asyncio.create_subprocess_exec(*scheduler_command(engine.home),
                                                     stderr=asyncio.subprocess.DEVNULL)
    try:
        for _ in range(400):  # the real `sluice scheduler` takes a moment to import and take the lock
            if lock_holder(engine.home.lock_path) == str(scheduler.pid):
                break
            await asyncio.sleep(0.05)
        assert lock_holder(engine.home.lock_path) == str(scheduler.pid)
        app = app_for(engine, poll_interval=0.1)
        seen = _record_notifications(app)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.scheduler_up is True, "the console sees the scheduler")
            await pilot.press("S")
            await settle(pilot)
            assert not isinstance(app.screen, ConfirmScreen)
            assert [message for message, _, _ in seen] == [f"a scheduler is already running (pid {scheduler.pid})"]
        assert not log_path(engine.home).exists(), "a second scheduler was started"
    finally:
        scheduler.send_signal(signal.SIGTERM)
        await scheduler.wait()


async def test_s_reports_a_scheduler_that_exits_at_once_with_its_code_and_message(engine):
    engine.home.nodes_file.write_text("[[node]]\nname = \n")  # the scheduler refuses an invalid nodes.toml
    app = app_for(engine, poll_interval=0.1)
    seen = _record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.scheduler_up is False, "the console sees no scheduler")
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the start confirmation")
        await pilot.press("y")
        # The console's own views also read the broken nodes.toml and say so: only the scheduler's news counts here.
        await until(pilot, lambda: bool(_about_the_scheduler(seen)), "news of the new scheduler", timeout=60)
        message, severity, _ = _about_the_scheduler(seen)[0]
        assert severity == "error"
        assert message.startswith("the scheduler exited at once (exit code 2): "), message
        assert "nodes.toml" in message, message
        assert not engine.scheduler_running()


async def test_s_says_started_only_once_the_new_scheduler_holds_the_lock(engine):
    app = app_for(engine, poll_interval=0.1)
    seen = _record_notifications(app)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.scheduler_up is False, "the console sees no scheduler")
            await pilot.press("S")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the start confirmation")
            await pilot.press("y")
            await until(pilot, lambda: bool(seen), "a notification about the new scheduler", timeout=60)
            message, severity, holder = seen[0]
            assert severity == "information"
            assert holder is not None and message.startswith(f"scheduler started (pid {holder})"), (message, holder)
            await until(pilot, lambda: app.scheduler_up is True, "the banner's check sees the scheduler")
    finally:
        await _stop(engine)
    assert not engine.scheduler_running()
