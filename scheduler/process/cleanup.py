"""Worker folder cleanup: ended attempts' folders are removed after the retention, recorded by the loop."""

from __future__ import annotations

from datetime import timedelta

from ..models import Attempt, to_iso
from ..states import NodeState
from ..store import queries as q
from .activity import folders_removed
from .context import PassContext
from .inbox import CleanupDone


async def select_cleanups(p: PassContext, nodes: set[str]) -> None:
    cutoff = to_iso(p.now - timedelta(seconds=p.settings.retention))
    by_node: dict[str, list[Attempt]] = {}
    answering = sorted(name for name in nodes if p.executor.health(name)[0] == NodeState.UP)
    for attempt in await q.attempts_to_clean(p.conn, cutoff, answering):
        if attempt.id not in p.memory.cleaning:
            by_node.setdefault(attempt.node, []).append(attempt)
    for node, attempts in by_node.items():
        p.memory.cleaning.update(a.id for a in attempts)
        p.effects.cleanups[node] = attempts


async def apply_cleanup(p: PassContext, item: CleanupDone) -> None:
    p.memory.cleaning.difference_update(item.failed_ids)
    for attempt_id in item.attempt_ids:
        p.memory.cleaning.discard(attempt_id)
        await q.update_attempt(p.conn, attempt_id, cleaned=1)
    await folders_removed(p, item)
