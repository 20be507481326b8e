"""One dispatch pass's plan: which queued runs start now, and where. Reads only; the scheduler commits it."""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from .config import NodeConfig
from .context import HealthCheck, load_context
from .gating import DispatchContext
from .models import Run
from .store import Database
from .store import queries as q

#: A pass reads at most this many pages of a queue. Every page starts with a run that may start (the SQL leaves
#: out what the context blocks at that moment), so only runs blocked by the pass's own reservations are skipped.
PAGES_PER_PASS = 4


async def plan_dispatch(db: Database, nodes: Sequence[NodeConfig], health: HealthCheck,
                        scan_limit: int) -> list[tuple[Run, NodeConfig]]:
    """Queue priority, then run priority, then FIFO; each run to the least-loaded node that fits it."""
    async with db.read() as conn:
        context = await load_context(conn, nodes, health)
        # Pages sized to the free slots: a deep queue costs a few rows per pass, not hundreds.
        page_size = min(scan_limit, context.free_slots() * 4 + 16)
        plan: list[tuple[Run, NodeConfig]] = []
        for queue in context.queue_order:
            if context.free_slots() <= 0:
                break
            plan += await _plan_queue(conn, context, queue, page_size)
        return plan


async def _plan_queue(conn: aiosqlite.Connection, context: DispatchContext, queue: str,
                      page_size: int) -> list[tuple[Run, NodeConfig]]:
    """Reserve slots for one queue's runs, in order, until the queue, the free slots or the page budget runs out."""
    plan: list[tuple[Run, NodeConfig]] = []
    after = None
    for _ in range(PAGES_PER_PASS):
        if context.queue_blocker(queue) is not None or context.free_slots() <= 0:
            break
        # Recomputed per page: reservations made so far may have held a backfill or filled a node.
        page = await q.queued_candidates(conn, queue, page_size, held_backfills=context.held_backfills(),
                                         canary_backfills=context.canary_held(),
                                         node_labels=context.free_node_labels(), after=after)
        for run in page:
            if context.blocker(run) is not None:
                continue
            node, _ = context.place(run)
            if node is None:
                continue
            context.reserve(run, node)
            plan.append((run, node.config))
            if context.free_slots() <= 0:
                return plan
        if len(page) < page_size:
            break
        after = (page[-1].priority, page[-1].id)
    return plan
