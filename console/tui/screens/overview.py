"""Overview: runs by job name (running, waiting, ended), queues with throughput, nodes, counts, service levels."""

from __future__ import annotations

from datetime import timedelta

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Static

from scheduler.engine import NodeView
from scheduler.states import NodeState, RunStatus

from ..format import DEAD_LETTERS, NODE_STYLES, STATUS_STYLES, count_of
from ..messages import OverviewLoaded
from ..shield import QUERY_ERRORS, shielded
from ..slis import BUCKETS, service_levels, sparkline
from ..widgets.banner import SchedulerBanner
from ..widgets.key_footer import KeyFooter
from ..widgets.quiet import update_static
from ..widgets.run_board import RunBoard
from ..widgets.table_sync import sync_rows
from .base import SluiceScreen

WINDOWS = [("1h", timedelta(hours=1)), ("24h", timedelta(hours=24)), ("7d", timedelta(days=7))]
COUNT_ORDER = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.RETRY_WAIT, RunStatus.FAILED, RunStatus.TIMED_OUT,
               RunStatus.CANCELLED, RunStatus.SUCCEEDED)


class OverviewScreen(SluiceScreen):
    """What is queued, running, failing and stuck, at a glance."""

    VIEW_TITLE = "Overview"
    SUB_TITLE = "overview"
    BINDINGS = [
        Binding("p", "toggle_pause", "Pause/resume queue"),
        Binding("D", "toggle_drain", "Drain/undrain node", key_display="D"),
        Binding("w", "window", "SLI window"),
    ]

    DEFAULT_CSS = """
    OverviewScreen #counts { height: 1; padding: 0 1; }
    OverviewScreen DataTable { height: auto; max-height: 3; }
    OverviewScreen #slis { height: auto; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.window_index = 0
        self.loaded: OverviewLoaded | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield SchedulerBanner()
        yield Static("", id="counts")
        yield RunBoard(id="board")
        yield DataTable(id="queues", cursor_type="row")
        yield DataTable(id="nodes", cursor_type="row")
        yield Static("", id="slis")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#queues", DataTable).add_columns("QUEUE", "STATE", "QUEUED", "RUNNING", "FAILED",
                                                         "ENDED/5m, 1h")
        self.query_one("#nodes", DataTable).add_columns("NODE", "STATUS", "SLOTS", "RUNNING", "NOTE")
        self.query_one(RunBoard).focus()

    def poll(self) -> None:
        self.query_one(RunBoard).poll()
        self._load(WINDOWS[self.window_index][1])

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """Queue and node tables get about two fifths of the height, the run board the rest."""
        queues, nodes = self.query_one("#queues", DataTable), self.query_one("#nodes", DataTable)
        budget = max(4, (self.size.height - 8) * 2 // 5)
        want_queues, want_nodes = queues.row_count + 1, nodes.row_count + 1  # + the header row
        for_queues = min(want_queues, max(2, budget // 2))
        for_nodes = min(want_nodes, max(2, budget - for_queues))
        for_queues = min(want_queues, max(for_queues, budget - for_nodes))
        queues.styles.max_height, nodes.styles.max_height = for_queues, for_nodes

    def on_run_board_opened(self, message: RunBoard.Opened) -> None:
        self.sluice.open_run(message.run_id)

    @work(exclusive=True, group="overview")
    async def _load(self, window: timedelta) -> None:
        try:
            self.post_message(await shielded(self._fetch(window)))
        except QUERY_ERRORS as exc:
            self.notify(f"refresh failed: {exc}", severity="error")

    async def _fetch(self, window: timedelta) -> OverviewLoaded:
        engine = self.engine
        queues = await engine.queues()
        nodes = await engine.nodes()
        counts = await engine.status_counts()
        slis, series = await service_levels(engine, window)
        return OverviewLoaded(queues, nodes, counts, slis, series)

    def on_overview_loaded(self, message: OverviewLoaded) -> None:
        self.loaded = message
        counts = Text()
        for status in COUNT_ORDER:
            if not message.counts.get(status):
                continue  # zeros would push the rest past 80 columns; the board's titles say "none"
            counts.append(f"{status} ", style="dim")
            counts.append(f"{message.counts.get(status, 0):,}", style=STATUS_STYLES[status])
            counts.append("  ")
        update_static(self.query_one("#counts", Static), counts if counts else Text("no runs yet", style="dim"))
        self.query_one(RunBoard).set_totals(message.counts)
        sync_rows(self.query_one("#queues", DataTable), {
            queue.name: (queue.name, Text("paused", style="bold yellow") if queue.paused else "active",
                         str(queue.counts.get(RunStatus.QUEUED, 0)), str(queue.counts.get(RunStatus.RUNNING, 0)),
                         str(count_of(queue.counts, DEAD_LETTERS)),
                         sparkline(message.sparklines.get(queue.name, [0.0] * BUCKETS)))
            for queue in message.queues
        })
        sync_rows(self.query_one("#nodes", DataTable), {
            node.config.name: (node.config.name, Text(node.status, style=_node_style(node.status)),
                               f"{node.slots_used}/{node.config.slots}",
                               ", ".join(str(run_id) for run_id in node.running[:6]) or "-", _node_note(node))
            for node in message.nodes
        })
        self._fit()
        slis = Text(f"Service levels {WINDOWS[self.window_index][0]} (w) ", style="bold")
        for key, value in message.slis.items():
            slis.append(f"  {key}: ", style="dim")
            slis.append(value, style="bold")
        update_static(self.query_one("#slis", Static), slis)

    # --- keys ---------------------------------------------------------------------------------------------

    def _cursor_key(self, table_id: str) -> str | None:
        table = self.query_one(f"#{table_id}", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def action_window(self) -> None:
        self.window_index = (self.window_index + 1) % len(WINDOWS)
        self.poll()

    def action_toggle_pause(self) -> None:
        name = self._cursor_key("queues")
        if name is None or self.loaded is None:
            return
        paused = next(queue.paused for queue in self.loaded.queues if queue.name == name)
        if paused:
            self.sluice.do_action(lambda: self._set_paused(name, False))
            return
        self.sluice.confirm(f"Pause queue {name}?\n\nIts queued runs stay queued and none starts until it is "
                            "resumed; running ones finish.", lambda: self._set_paused(name, True), "Pause")

    async def _set_paused(self, name: str, paused: bool) -> str:
        await self.engine.set_queue_paused(name, paused)
        return f"queue {name} {'paused' if paused else 'resumed'}"

    def action_toggle_drain(self) -> None:
        name = self._cursor_key("nodes")
        if name is None or self.loaded is None:
            self.notify("select a node first (tab to the nodes table)", severity="warning")
            return
        node = next(node for node in self.loaded.nodes if node.config.name == name)
        if node.status in (NodeState.DRAINED, NodeState.QUARANTINED):  # undrain also lifts a quarantine
            self.sluice.do_action(lambda: self._set_drained(name, False))
            return
        self.sluice.confirm(f"Drain node {name}?\n\nNo new run starts on it; its {node.slots_used} running "
                            "run(s) finish.", lambda: self._set_drained(name, True), "Drain")

    async def _set_drained(self, name: str, drained: bool) -> str:
        await self.engine.set_drained(name, drained)  # as `sluice drain` without --reason; the nodes screen asks for one
        return f"node {name} {'drained' if drained else 'undrained'}"

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a queue or node opens the runs view scoped to it."""
        name = event.row_key.value
        scope = f"queue={name}" if event.data_table.id == "queues" else f"running node={name}"
        self.call_later(self.sluice.open_view, f"runs {scope}")


def _node_style(status: str) -> str:
    return NODE_STYLES.get(status, "dim")


def _node_note(node: NodeView) -> str:
    state = node.state
    if state is None:
        return "not seen by the scheduler yet"
    if state.drained:
        return f"drained: {state.drain_reason}" if state.drain_reason else "drained"
    if state.quarantined_at:
        return f"quarantined: {state.quarantine_reason} (D undrains)"
    return "; ".join(error for error in (state.last_error, state.probe_error) if error)
