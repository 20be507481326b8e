"""Probe failures in a pass: a node that answers a probe without a report shows why on its row, with an event
once per distinct message; the first probe that succeeds again clears it (STYLE 13: on the pass's memory)."""

from __future__ import annotations

from collections.abc import Sequence

from ..states import EventKind
from ..store import queries as q
from .context import ACTOR, PassContext
from .inbox import InboxItem, ProbeDone, ProbeFailed


async def apply_probe_results(p: PassContext, items: Sequence[InboxItem]) -> None:
    """Record probe failures that changed, clear them on success or once the node has no attempt to probe."""
    probes = [item for item in items if isinstance(item, ProbeDone | ProbeFailed)]
    errors = p.memory.probe_errors
    if errors is None:  # the first pass: what the store holds, maybe from an earlier scheduler
        errors = p.memory.probe_errors = await q.probe_errors(p.conn)
    if not probes and not errors:
        return
    watched = {attempt.node for attempt in p.memory.active.values()}
    for item in probes:
        if isinstance(item, ProbeDone):
            await _clear(p, errors, item.node, "probes succeed again")
        elif item.node in watched and errors.get(item.node) != item.message:
            errors[item.node] = item.message
            await q.set_probe_error(p.conn, item.node, item.message, p.at)
            await q.insert_event(p.conn, p.at, EventKind.PROBE_FAILED, actor=ACTOR, detail=item.message)
            p.effects.progressed = True
    for node in [name for name in errors if name not in watched]:
        await _clear(p, errors, node, "no attempt is left to probe there")


async def _clear(p: PassContext, errors: dict[str, str], node: str, why: str) -> None:
    if errors.pop(node, None) is None:
        return
    await q.set_probe_error(p.conn, node, None, p.at)
    await q.insert_event(p.conn, p.at, EventKind.PROBE_RECOVERED, actor=ACTOR, detail=f"node {node}: {why}")
    p.effects.progressed = True
