"""Nodes: each worker's state, slots, labels and last error, the runs on the highlighted one, drain and undrain."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Static

from scheduler.engine import NodeView
from scheduler.models import Run
from scheduler.run_filter import RunFilter
from scheduler.states import NodeState, RunStatus

from ..format import NODE_STYLES, duration_text, elapsed, short_time
from ..messages import NodesLoaded
from ..shield import QUERY_ERRORS, shielded
from ..widgets.banner import SchedulerBanner
from ..widgets.key_footer import KeyFooter
from ..widgets.quiet import update_static
from ..widgets.table_sync import sync_rows
from .base import SluiceScreen
from .prompt import PromptScreen

#: Nodes that take no new work until an operator undrains them (undrain also lifts a quarantine).
HELD = (NodeState.DRAINED, NodeState.QUARANTINED)
#: The scheduler records no round-trip time of its probes: the column says so rather than guess one.
NO_ROUND_TRIP = "-"


class NodesScreen(SluiceScreen):
    """Every node of nodes.toml as the scheduler last saw it; the runs on the highlighted one below."""

    VIEW_TITLE = "Nodes"
    SUB_TITLE = "nodes"
    BINDINGS = [
        Binding("D", "drain", "Drain node…", key_display="D"),
        Binding("U", "undrain", "Undrain node", key_display="U"),
        Binding("tab", "switch_table", "Nodes/runs", key_display="tab", show=False),
    ]

    DEFAULT_CSS = """
    NodesScreen #nodes { height: auto; max-height: 60%; }
    NodesScreen #node-runs { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.loaded = NodesLoaded([], {})

    def compose(self) -> ComposeResult:
        yield Header()
        yield SchedulerBanner()
        yield Static("", id="nodes-status", classes="status-line")
        yield DataTable(id="nodes", cursor_type="row")
        yield Static("", id="node-runs-title", classes="panel-title")
        yield DataTable(id="node-runs", cursor_type="row")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#nodes", DataTable).add_columns(
            "NODE", "STATE", "SLOTS", "LABELS", "SEEN", "RTT", "LAST ERROR / WHY"
        )
        self.query_one("#node-runs", DataTable).add_columns("RUN", "JOB", "PARTITION", "STARTED", "RUNTIME")
        self.query_one("#nodes", DataTable).focus()

    def poll(self) -> None:
        self._load()

    @work(exclusive=True, group="nodes")
    async def _load(self) -> None:
        try:
            self.post_message(await shielded(self._fetch()))
        except QUERY_ERRORS as exc:
            self.notify(f"refresh failed: {exc}", severity="error")

    async def _fetch(self) -> NodesLoaded:
        nodes = await self.engine.nodes()
        # One query for the whole fleet: a node runs at most its slots, so this bound holds every running run.
        limit = max(100, 2 * sum(node.config.slots for node in nodes))
        running = await self.engine.runs(RunFilter(statuses=(RunStatus.RUNNING,)), limit=limit)
        by_node: dict[str, list[Run]] = {}
        for run in running:
            if run.node is not None:
                by_node.setdefault(run.node, []).append(run)
        return NodesLoaded(nodes, by_node)

    def on_nodes_loaded(self, message: NodesLoaded) -> None:
        self.loaded = message
        sync_rows(
            self.query_one("#nodes", DataTable), {node.config.name: _node_row(node) for node in message.nodes}
        )
        counts: dict[str, int] = {}
        for node in message.nodes:
            counts[node.status] = counts.get(node.status, 0) + 1
        text = (
            f"{len(message.nodes)} nodes: " + ", ".join(f"{n} {state}" for state, n in counts.items())
            if message.nodes
            else "No nodes: add them to nodes.toml."
        )
        update_static(
            self.query_one("#nodes-status", Static), text + "   (RTT: not recorded by the scheduler)"
        )
        self._show_runs()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "nodes":
            self._show_runs()

    def _show_runs(self) -> None:
        name = self._cursor_node()
        runs = self.loaded.runs.get(name, []) if name else []
        now = self.engine.clock()
        sync_rows(
            self.query_one("#node-runs", DataTable),
            {
                str(run.id): (
                    str(run.id),
                    run.job,
                    run.partition or "-",
                    short_time(run.started_at),
                    duration_text(elapsed(run.started_at, None, now)),
                )
                for run in runs
            },
        )
        title = f"Runs on {name}: {len(runs)} running (enter opens one)" if name else "Runs on the node"
        update_static(self.query_one("#node-runs-title", Static), title)

    def _cursor_node(self) -> str | None:
        table = self.query_one("#nodes", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def _target(self) -> NodeView | None:
        name = self._cursor_node()
        node = next((node for node in self.loaded.nodes if node.config.name == name), None)
        if node is None:
            self.notify("no node selected", severity="warning")
        return node

    # --- keys ---------------------------------------------------------------------------------------------

    def action_switch_table(self) -> None:
        nodes, runs = self.query_one("#nodes", DataTable), self.query_one("#node-runs", DataTable)
        (nodes if runs.has_focus else runs).focus()

    def action_drain(self) -> None:
        node = self._target()
        if node is None:
            return
        name = node.config.name

        def reason_given(reason: str | None) -> None:
            if reason is None:  # escape: nothing is drained
                return
            why = reason.strip() or None
            self.sluice.confirm(
                f"Drain node {name}?\n\nNo new run starts on it; its {node.slots_used} running run(s) finish."
                f"\nReason: {why or 'none given'}",
                lambda: self._set_drained(name, True, why),
                "Drain",
            )

        self.app.push_screen(
            PromptScreen("reason", f"Why drain {name}? Kept in the events (enter: no reason, esc: cancel)"),
            reason_given,
        )

    def action_undrain(self) -> None:
        node = self._target()
        if node is None:
            return
        name = node.config.name
        if node.status not in HELD:
            self.notify(f"node {name} is {node.status}, not drained", severity="warning")
            return
        lifted = " Its quarantine is lifted too." if node.status == NodeState.QUARANTINED else ""
        self.sluice.confirm(
            f"Undrain node {name}?\n\nNew runs may start on it again.{lifted}",
            lambda: self._set_drained(name, False, None),
            "Undrain",
        )

    async def _set_drained(self, name: str, drained: bool, reason: str | None) -> str:
        # The call `sluice drain --reason` and `sluice undrain` make (console/cli/fleet.py).
        await self.engine.set_drained(name, drained, reason)
        return f"node {name} {'drained: no new runs go there' if drained else 'undrained'}"

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a run opens it; on a node, moves to its runs."""
        if event.data_table.id == "node-runs":
            self.sluice.open_run(int(event.row_key.value or 0))
        elif self.query_one("#node-runs", DataTable).row_count:
            self.query_one("#node-runs", DataTable).focus()


def _node_row(node: NodeView) -> tuple[Any, ...]:
    return (
        node.config.name,
        Text(node.status, style=NODE_STYLES.get(node.status, "dim")),
        f"{node.slots_used}/{node.config.slots}",
        ",".join(node.config.labels) or "-",
        short_time(node.state.last_seen_at) if node.state else "-",
        NO_ROUND_TRIP,
        _why(node),
    )


def _why(node: NodeView) -> str:
    """Why the node takes no work, else its last connection or probe error."""
    state = node.state
    if state is None:
        return "not seen by the scheduler yet"
    if state.drained:
        until = f" (runs preempted at {short_time(state.drain_deadline)})" if state.drain_deadline else ""
        return f"drained: {state.drain_reason or 'no reason given'}{until}"
    if state.quarantined_at:
        return f"quarantined since {short_time(state.quarantined_at)}: {state.quarantine_reason} (U undrains)"
    return "; ".join(error for error in (state.last_error, state.probe_error) if error) or "-"
