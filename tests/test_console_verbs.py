"""Console verbs mean what the CLI's verbs mean, and the command palette holds them as well as the keys."""

from __future__ import annotations

import asyncio
import io
import json
from contextlib import redirect_stdout

from test_console_support import SIZE, app_for, settle, start

from console.cli.main import main
from console.tui.screens.confirm import ConfirmScreen
from console.tui.screens.runs import RunsScreen
from scheduler.engine import Engine
from scheduler.states import RunStatus

pytest_plugins = ("test_console_support",)


def _cli(*argv: str) -> int:
    """The real CLI in this process (in a thread of its own: it runs its own event loop)."""
    with redirect_stdout(io.StringIO()):
        return main(list(argv))


async def _queued_and_running(engine: Engine) -> tuple[int, int]:
    queued, _ = await engine.submit("hello", {})
    running, _ = await engine.submit("hello", {})
    await start(engine, running)
    return queued, running


async def _outcome(engine: Engine, run_id: int) -> tuple[object, ...]:
    """What a cancel leaves on a run: its status, who asked for a kill and why, and its events after dispatch."""
    detail = await engine.run_detail(run_id)
    run = detail.run
    request = (
        {key: run.cancel_requested.get(key) for key in ("by", "reason")} if run.cancel_requested else None
    )
    events = [
        (event.kind, event.old_status, event.new_status, event.actor, event.detail, event.reason)
        for event in detail.events
        if event.kind not in ("submitted", "dispatch")
    ]
    return run.status, request, sorted(events, key=repr)


async def test_c_in_the_console_does_what_sluice_cancel_does(engine):
    by_cli = await _queued_and_running(engine)
    by_console = await _queued_and_running(engine)
    code = await asyncio.to_thread(_cli, "cancel", "--home", str(engine.home.root), *map(str, by_cli))
    assert code == 0
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await app.open_view("runs")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        screen.table.tagged.update(by_console)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        question = app.screen.question
        assert "2 runs" in question and "killed" in question
        await pilot.press("y")
        await settle(pilot)
        assert "k" not in screen.active_bindings  # one verb, one key: no kill beside cancel
    for cli_run, console_run in zip(by_cli, by_console, strict=True):
        assert await _outcome(engine, cli_run) == await _outcome(engine, console_run)
    assert (await engine.run(by_cli[0])).status == RunStatus.CANCELLED
    assert (await engine.run(by_cli[1])).cancel_requested is not None  # running: the scheduler kills it
    assert json.loads(json.dumps((await engine.run(by_console[1])).cancel_requested))["by"]
