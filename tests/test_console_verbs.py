"""Console verbs mean what the CLI's verbs mean, and the command palette holds them as well as the keys."""

from __future__ import annotations

import asyncio
import io
import json
from contextlib import redirect_stdout

import pytest
from test_console_support import SIZE, app_for, finish, settle, start
from textual.pilot import Pilot
from textual.widgets import DataTable

from console.cli.main import main
from console.tui.app import SluiceApp
from console.tui.screens.confirm import ConfirmScreen
from console.tui.screens.runs import RunsScreen
from scheduler.engine import Engine
from scheduler.models import Event
from scheduler.states import NodeState, RunStatus

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


def _facts(events: list[Event], kinds: set[str]) -> list[tuple[object, ...]]:
    """What an operator verb wrote in the audit log, without the ids and times that differ between two runs."""
    return [(event.kind, event.old_status, event.new_status, event.actor, event.detail, event.reason)
            for event in events if event.kind in kinds]


async def _failed(engine: Engine) -> int:
    run_id, _ = await engine.submit("hello", {})
    await finish(engine, run_id, await start(engine, run_id), RunStatus.FAILED, 1)
    return run_id


async def _succeeded(engine: Engine) -> int:
    run_id, _ = await engine.submit("hello", {})
    await finish(engine, run_id, await start(engine, run_id), RunStatus.SUCCEEDED, 0)
    return run_id


async def _press_on_runs(app: SluiceApp, pilot: Pilot[int], run_id: int, *keys: str) -> None:
    await app.open_view("runs")
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, RunsScreen)
    screen.table.tagged.clear()
    screen.table.tagged.add(run_id)
    await pilot.press(*keys)
    await settle(pilot)


async def _run_facts(engine: Engine, run_id: int) -> tuple[object, ...]:
    detail = await engine.run_detail(run_id)
    return (detail.run.status, detail.run.priority, detail.run.attempts_used,
            _facts(detail.events, {"retry", "priority"}))


async def test_r_in_the_console_does_what_sluice_retry_does(engine):
    by_cli, by_console = await _failed(engine), await _failed(engine)
    assert await asyncio.to_thread(_cli, "retry", "--home", str(engine.home.root), str(by_cli)) == 0
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _press_on_runs(app, pilot, by_console, "r")
    assert (await engine.run(by_console)).status == RunStatus.QUEUED
    assert await _run_facts(engine, by_cli) == await _run_facts(engine, by_console)


async def test_r_on_a_succeeded_run_refuses_as_sluice_retry_without_force_does(engine):
    by_cli, by_console = await _succeeded(engine), await _succeeded(engine)
    assert await asyncio.to_thread(_cli, "retry", "--home", str(engine.home.root), str(by_cli)) == 2
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _press_on_runs(app, pilot, by_console, "r")
        notes = [str(note.message) for note in app._notifications]
    assert any("already succeeded" in note for note in notes), notes
    for run_id in (by_cli, by_console):
        assert await _run_facts(engine, run_id) == (RunStatus.SUCCEEDED, 0, 1, [])


async def test_shift_r_confirmed_reruns_a_succeeded_run_as_retry_force_from_scratch_does(engine):
    by_cli, by_console = await _succeeded(engine), await _succeeded(engine)
    code = await asyncio.to_thread(_cli, "retry", "--home", str(engine.home.root), "--force", "--from-scratch",
                                   str(by_cli))
    assert code == 0
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _press_on_runs(app, pilot, by_console, "R")
        assert isinstance(app.screen, ConfirmScreen) and "succeeded" in app.screen.question
        await pilot.press("y")
        await settle(pilot)
    assert (await engine.run(by_console)).status == RunStatus.QUEUED
    assert await _run_facts(engine, by_cli) == await _run_facts(engine, by_console)


async def test_p_in_the_console_does_what_sluice_priority_does(engine):
    by_cli, _ = await engine.submit("hello", {})
    by_console, _ = await engine.submit("hello", {})
    assert await asyncio.to_thread(_cli, "priority", "--home", str(engine.home.root), str(by_cli), "7") == 0
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _press_on_runs(app, pilot, by_console, "P", "7", "enter")
    assert (await engine.run(by_console)).priority == 7
    assert await _run_facts(engine, by_cli) == await _run_facts(engine, by_console)


async def test_pausing_a_queue_in_the_console_does_what_sluice_pause_does(engine):
    home = str(engine.home.root)
    await engine.submit("hello", {})  # a queue exists once a run uses it (issue 16: default always exists)
    assert await asyncio.to_thread(_cli, "pause", "--home", home, "default") == 0
    by_cli = _facts(await engine.events(5), {"pause"})
    assert await asyncio.to_thread(_cli, "resume", "--home", home, "default") == 0
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query_one("#queues", DataTable).focus()
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
    queues = {queue.name: queue for queue in await engine.queues()}
    assert queues["default"].paused
    assert _facts(await engine.events(5), {"pause"})[:1] == by_cli[:1]


async def test_draining_a_node_from_the_overview_does_what_sluice_drain_does(engine):
    home = str(engine.home.root)
    assert await asyncio.to_thread(_cli, "drain", "--home", home, "n1") == 0
    by_cli = _facts(await engine.events(5), {"drain"})
    assert await asyncio.to_thread(_cli, "undrain", "--home", home, "n1") == 0
    mark = max(event.id for event in await engine.events(1))
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query_one("#nodes", DataTable).focus()
        await pilot.press("D")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
    by_console = _facts([event for event in await engine.events(5) if event.id > mark], {"drain"})
    assert by_console == by_cli and len(by_cli) == 1
    assert {node.config.name: node for node in await engine.nodes()}["n1"].status == NodeState.DRAINED


async def test_r_on_a_failed_and_a_succeeded_run_refuses_both_as_sluice_retry_does(engine):
    by_cli = (await _failed(engine), await _succeeded(engine))
    by_console = (await _failed(engine), await _succeeded(engine))
    assert await asyncio.to_thread(_cli, "retry", "--home", str(engine.home.root), *map(str, by_cli)) == 2
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await app.open_view("runs")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        screen.table.tagged.update(by_console)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        notes = [str(note.message) for note in app._notifications]
    assert any("nothing was retried" in note for note in notes), notes
    for cli_run, console_run in zip(by_cli, by_console, strict=True):
        assert await _run_facts(engine, cli_run) == await _run_facts(engine, console_run)
    assert (await engine.run(by_console[0])).status == RunStatus.FAILED


async def _two_backfills(engine: Engine) -> tuple[int, int]:
    ids = []
    for month in ("10", "11"):
        plan = await engine.plan_backfill("etl", range_from=f"2026-{month}-01", range_to=f"2026-{month}-05")
        backfill_id, _ = await engine.create_backfill(plan)
        ids.append(backfill_id)
    return ids[0], ids[1]


def _backfill_audit(events: list[Event], backfill_id: int) -> list[tuple[object, ...]]:
    """The audit lines a backfill verb wrote, its id written as ID so two backfills compare."""
    return sorted((event.kind, event.old_status, event.new_status, event.actor, event.reason,
                   (event.detail or "").replace(f"backfill {backfill_id}", "backfill ID"))
                  for event in events)


async def _backfill_state(engine: Engine, backfill_id: int) -> tuple[object, ...]:
    detail = await engine.backfill_detail(backfill_id)
    return detail.backfill.status, detail.backfill.max_parallel, sorted(detail.counts.items())


async def _backfill_verb_in_console(engine: Engine, backfill_id: int, *keys: str) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await app.open_view(f"backfill {backfill_id}")
        await settle(pilot)
        await pilot.press(*keys)
        await settle(pilot)


@pytest.mark.parametrize(("cli_verb", "keys"), [
    (("backfill-pause",), ("p", "y")),
    (("backfill-set", "--max-parallel", "3"), ("m", "3", "enter")),
    (("backfill-cancel",), ("c", "y")),
])
async def test_each_backfill_verb_in_the_console_does_what_the_cli_does(engine, cli_verb, keys):
    by_cli, by_console = await _two_backfills(engine)
    untouched = await _backfill_state(engine, by_cli)
    mark = max(event.id for event in await engine.events(1))
    assert await asyncio.to_thread(_cli, cli_verb[0], "--home", str(engine.home.root), str(by_cli), *cli_verb[1:]) == 0
    cli_events = [event for event in await engine.events(500) if event.id > mark]
    mark = max(event.id for event in cli_events)
    await _backfill_verb_in_console(engine, by_console, *keys)
    console_events = [event for event in await engine.events(500) if event.id > mark]
    assert await _backfill_state(engine, by_cli) != untouched
    assert await _backfill_state(engine, by_cli) == await _backfill_state(engine, by_console)
    assert _backfill_audit(cli_events, by_cli) == _backfill_audit(console_events, by_console)


async def _toggle_in_overview(engine: Engine, table: str, key: str) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query_one(f"#{table}", DataTable).focus()
        await pilot.press(key)
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)  # undoing a pause or a drain asks nothing


async def test_resuming_a_queue_in_the_console_does_what_sluice_resume_does(engine):
    home = str(engine.home.root)
    await engine.submit("hello", {})
    for verb in ("pause", "resume", "pause"):
        assert await asyncio.to_thread(_cli, verb, "--home", home, "default") == 0
    by_cli = _facts(await engine.events(5), {"resume"})
    await _toggle_in_overview(engine, "queues", "p")
    assert not {queue.name: queue for queue in await engine.queues()}["default"].paused
    assert _facts(await engine.events(5), {"resume"})[:1] == by_cli[:1]


async def test_undraining_a_node_in_the_console_does_what_sluice_undrain_does(engine):
    home = str(engine.home.root)
    for verb in ("drain", "undrain", "drain"):
        assert await asyncio.to_thread(_cli, verb, "--home", home, "n1") == 0
    by_cli = _facts(await engine.events(5), {"undrain"})
    await _toggle_in_overview(engine, "nodes", "D")
    assert _facts(await engine.events(5), {"undrain"})[:1] == by_cli[:1]
    assert _facts(await engine.events(5), {"drain", "undrain"})[0][0] == "undrain"


async def test_resuming_a_backfill_in_the_console_does_what_sluice_backfill_resume_does(engine):
    by_cli, by_console = await _two_backfills(engine)
    home = str(engine.home.root)
    for backfill_id in (by_cli, by_console):
        await engine.pause_backfill(backfill_id)
    mark = max(event.id for event in await engine.events(1))
    assert await asyncio.to_thread(_cli, "backfill-resume", "--home", home, str(by_cli)) == 0
    cli_events = [event for event in await engine.events(50) if event.id > mark]
    mark = max(event.id for event in cli_events)
    await _backfill_verb_in_console(engine, by_console, "p")
    console_events = [event for event in await engine.events(50) if event.id > mark]
    assert await _backfill_state(engine, by_cli) == await _backfill_state(engine, by_console)
    assert _backfill_audit(cli_events, by_cli) == _backfill_audit(console_events, by_console)


async def test_retrying_a_backfills_failed_partitions_in_the_console_does_what_the_cli_does(engine):
    by_cli, by_console = await _two_backfills(engine)
    for backfill_id in (by_cli, by_console):
        first = sorted((await engine.backfill_detail(backfill_id)).runs, key=lambda run: run.id)[0]
        await finish(engine, first.id, await start(engine, first.id), RunStatus.FAILED, 1)
    mark = max(event.id for event in await engine.events(1))
    code = await asyncio.to_thread(_cli, "backfill-retry-failed", "--home", str(engine.home.root), str(by_cli))
    assert code == 0
    cli_events = [event for event in await engine.events(50) if event.id > mark]
    mark = max(event.id for event in cli_events)
    await _backfill_verb_in_console(engine, by_console, "F", "y")
    console_events = [event for event in await engine.events(50) if event.id > mark]
    assert (await engine.backfill_detail(by_console)).counts.get(RunStatus.FAILED, 0) == 0
    assert await _backfill_state(engine, by_cli) == await _backfill_state(engine, by_console)
    assert _backfill_audit(cli_events, by_cli) == _backfill_audit(console_events, by_console)
