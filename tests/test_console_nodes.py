"""The nodes screen: each node's state, slots, labels and last error, its running runs, and drain/undrain
with a reason through the engine call `sluice drain` uses."""

from __future__ import annotations

from test_console_support import SIZE, app_for, at, settle, start, until
from textual.widgets import DataTable

from console.tui.screens.confirm import ConfirmScreen
from console.tui.screens.help import HelpScreen
from console.tui.screens.nodes import NodesScreen
from console.tui.screens.prompt import PromptScreen
from scheduler.engine import os_user
from scheduler.states import EventKind, NodeState
from scheduler.store import queries as q

pytest_plugins = ("test_console_support",)

NODES = (
    '[[node]]\nname = "n1"\nhost = "127.0.0.1"\nslots = 4\nlabels = ["gpu", "big"]\n\n'
    '[[node]]\nname = "n2"\nhost = "127.0.0.2"\nslots = 2\n'
)


async def _nodes_screen(pilot) -> NodesScreen:
    await pilot.press("colon", *"nodes", "enter")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, NodesScreen)
    return screen


def _cells(table: DataTable, key: str) -> list[str]:
    return [str(cell) for cell in table.get_row(key)]


async def test_nodes_screen_shows_state_slots_labels_and_last_error(engine):
    engine.home.nodes_file.write_text(NODES)
    run_id, _ = await engine.submit("hello", {})
    await start(engine, run_id, node="n1")
    async with engine.db.write() as conn:
        await q.set_node_health(conn, "n1", NodeState.UP, None, at(1))
        await q.set_node_health(conn, "n2", NodeState.DOWN, "connection refused by 127.0.0.2:22", at(2))
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _nodes_screen(pilot)
        table = screen.query_one("#nodes", DataTable)
        await until(pilot, lambda: table.row_count == 2, "both nodes")
        n1, n2 = _cells(table, "n1"), _cells(table, "n2")
        assert n1[:4] == ["n1", "up", "1/4", "gpu,big"]
        assert n2[:4] == ["n2", "down", "0/2", "-"]
        assert "connection refused by 127.0.0.2:22" in n2[-1]
        assert "-" in n1  # round-trip: the scheduler records none


async def test_the_highlighted_nodes_running_runs_show_below_and_enter_opens_one(engine):
    on_n1, _ = await engine.submit("hello", {})
    on_n2, _ = await engine.submit("etl", {"day": "2026-11-01"})
    await start(engine, on_n1, node="n1")
    await start(engine, on_n2, node="n2")
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _nodes_screen(pilot)
        runs = screen.query_one("#node-runs", DataTable)
        await until(pilot, lambda: [key.value for key in runs.rows] == [str(on_n1)], "n1's run")
        await pilot.press("down")
        await until(pilot, lambda: [key.value for key in runs.rows] == [str(on_n2)], "n2's run")
        assert "2026-11-01" in _cells(runs, str(on_n2))
        await pilot.press("tab", "enter")
        await settle(pilot)
        assert getattr(app.screen, "run_id", None) == on_n2


async def test_drain_with_a_reason_from_the_console_then_undrain(engine):
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _nodes_screen(pilot)
        await until(pilot, lambda: screen.query_one("#nodes", DataTable).row_count == 2, "the nodes")
        await pilot.press("D")
        await settle(pilot)
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*"disk swap", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "Drain node n1" in app.screen.question and "disk swap" in app.screen.question
        await pilot.press("y")
        await settle(pilot)
        n1 = {node.config.name: node for node in await engine.nodes()}["n1"]
        assert (
            n1.status == NodeState.DRAINED and n1.state is not None and n1.state.drain_reason == "disk swap"
        )
        [drain] = [event for event in await engine.events(10) if event.kind == EventKind.DRAIN]
        assert drain.reason == "disk swap" and drain.actor == os_user() and "node n1" in (drain.detail or "")
        await until(
            pilot, lambda: "drained" in _cells(screen.query_one("#nodes", DataTable), "n1")[1], "drained"
        )
        assert "disk swap" in _cells(screen.query_one("#nodes", DataTable), "n1")[-1]

        await pilot.press("U")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen) and "Undrain node n1" in app.screen.question
        await pilot.press("y")
        await settle(pilot)
        n1 = {node.config.name: node for node in await engine.nodes()}["n1"]
        assert n1.state is not None and not n1.state.drained and n1.state.drain_reason is None
        assert [event.kind for event in await engine.events(1)] == [EventKind.UNDRAIN]


async def test_escape_at_the_reason_prompt_drains_nothing(engine):
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _nodes_screen(pilot)
        await until(pilot, lambda: screen.query_one("#nodes", DataTable).row_count == 2, "the nodes")
        await pilot.press("D", *"oops", "escape")
        await settle(pilot)
        assert app.screen is screen
    assert all(node.status != NodeState.DRAINED for node in await engine.nodes())
    assert not [event for event in await engine.events(10) if event.kind == EventKind.DRAIN]


async def test_key_6_opens_the_nodes_screen_and_help_lists_its_keys(engine):
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        assert isinstance(app.screen, NodesScreen)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        described = dict(app.screen.keys)
        assert "Drain node…" in described.values() and "Undrain node" in described.values()


async def test_the_readonly_console_offers_no_drain(engine):
    app = app_for(engine, readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _nodes_screen(pilot)
        await until(pilot, lambda: screen.query_one("#nodes", DataTable).row_count == 2, "the nodes")
        await pilot.press("D")
        await settle(pilot)
        assert app.screen is screen
    assert all(node.status != NodeState.DRAINED for node in await engine.nodes())
