"""Build a DispatchContext from the store: used by the dispatch pass and by wait-reason explanations."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import aiosqlite

from .config import NodeConfig
from .gating import DispatchContext, NodeSlots
from .models import Run
from .states import NodeState, RunStatus
from .store import queries as q

#: (node name) -> (usable, why not); the scheduler asks its live connections, the console asks the store.
HealthCheck = Callable[[str], tuple[bool, str | None]]


async def load_context(conn: aiosqlite.Connection, nodes: Sequence[NodeConfig], health: HealthCheck) -> DispatchContext:
    queue_rows = await q.queues(conn)
    backfills = {backfill.id: backfill for backfill in await q.active_backfills(conn)}
    used = await q.used_slots_by_node(conn)
    drained = {state.name: state for state in await q.node_states(conn)}
    slots = []
    for node in nodes:
        usable, why = health(node.name)
        state = drained.get(node.name)
        if state is not None and state.drained:
            usable, why = False, "drained" + (f" ({state.drain_reason})" if state.drain_reason else "")
        elif state is not None and state.quarantined_at:
            usable, why = False, f"quarantined ({state.quarantine_reason})"
        slots.append(NodeSlots(node, used.get(node.name, 0), usable, why))
    return DispatchContext(
        queue_paused={row["name"]: bool(row["paused"]) for row in queue_rows},
        queue_max_running={row["name"]: row["max_running"] for row in queue_rows},
        running_by_queue=await q.running_counts_by_queue(conn),
        backfills=backfills,
        running_by_backfill=await q.running_counts_by_backfill(conn),
        started_by_backfill=await q.backfill_started_counts(conn, list(backfills)),
        nodes=slots,
        queue_order=[row["name"] for row in queue_rows],
    )


#: How a wait reason words the state of the upstream partition's newest run (None: there is none).
_UPSTREAM_STATE: dict[str | None, str] = {None: "has no run yet", RunStatus.FAILED: "FAILED",
                                          RunStatus.CANCELLED: "was cancelled", RunStatus.TIMED_OUT: "TIMED OUT"}


async def fill_upstream_blocks(conn: aiosqlite.Connection, context: DispatchContext, runs: Sequence[Run]) -> None:
    """For runs with `after`, record the first upstream partition not done yet and its state (batched queries)."""
    partitions = {run.id: run.partition for run in runs if run.definition.get("after")}
    for run_id, upstream, status in await q.upstream_statuses(conn, list(partitions)):
        if status == RunStatus.SUCCEEDED or run_id in context.upstream_blocks:
            continue
        partition = partitions[run_id]
        where = f" partition {partition}" if partition else ""
        state = _UPSTREAM_STATE.get(status, f"is {status}")
        context.upstream_blocks[run_id] = f"waiting for upstream {upstream}{where}, which {state}"


def store_health(states: dict[str, tuple[str, str | None]]) -> HealthCheck:
    """Health as the scheduler last recorded it in the store (for processes without live connections)."""
    def check(name: str) -> tuple[bool, str | None]:
        state, error = states.get(name, (NodeState.UNKNOWN, None))
        if state in (NodeState.UP, NodeState.UNKNOWN):
            return True, None
        return False, f"{state}: {error}" if error else state

    return check
