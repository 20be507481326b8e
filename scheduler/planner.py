"""One dispatch pass's plan: which queued runs start now, and where. Reads only; the scheduler commits it."""

from __future__ import annotations

from collections.abc import Sequence

from .config import NodeConfig
from .context import HealthCheck, fill_upstream_blocks, load_context
from .models import Run
from .store import Database
from .store import queries as q

#: A pass looks at most this many pages of a queue (runs blocked by `after` or labels are skipped past).
PAGES_PER_PASS = 4


async def plan_dispatch(db: Database, nodes: Sequence[NodeConfig], health: HealthCheck,
                        scan_limit: int) -> list[tuple[Run, NodeConfig]]:
    """Queue priority, then run priority, then FIFO; each run to the least-loaded node that fits it."""
    async with db.read() as conn:
        context = await load_context(conn, nodes, health)
        if context.free_slots() <= 0:
            return []
        plan: list[tuple[Run, NodeConfig]] = []
        queue_names = [row["name"] for row in await q.queues(conn) if not row["paused"]]
        # Pages sized to the free slots: a deep queue costs a few rows per pass, not hundreds.
        page_size = min(scan_limit, context.free_slots() * 4 + 16)
        for queue in queue_names:
            scanned, after = 0, None
            while scanned < scan_limit * PAGES_PER_PASS:
                page = await q.queued_candidates(conn, queue, page_size, held_backfills=context.held_backfills(),
                                                 canary_backfills=context.canary_held(), after=after)
                if not page:
                    break
                scanned += len(page)
                after = (page[-1].priority, page[-1].id)
                await fill_upstream_blocks(conn, context, [run for run in page if run.definition.get("after")])
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
        return plan
