"""Quarantine in a pass: count a node's infrastructure failures in a row, quarantine it at its
`quarantine_after`, health-check it after the cool-down and let it take work again once the check passes.

A quarantined node takes no new work (scheduler/context.py load_context); `sluice undrain` also lifts it."""

from __future__ import annotations

from ..config import DEFAULT_QUARANTINE_AFTER
from ..models import Attempt
from ..outcomes import AttemptEnd
from ..states import INFRA_FAILURES, EndReason, EventKind
from ..store import queries as q
from .context import ACTOR, PassContext
from .inbox import CheckDone


async def count_ending(p: PassContext, attempt: Attempt, end: AttemptEnd) -> None:
    """An attempt ended on its node: one more infrastructure failure in a row, or the node works."""
    node = attempt.node
    if end.reason not in INFRA_FAILURES:
        p.memory.outage_counted.discard(node)
        await q.reset_node_infra_failures(p.conn, node)
        return
    if end.reason in (EndReason.NODE_LOST, EndReason.NOT_SENT):
        if node in p.memory.outage_counted:
            # The attempts of one outage (or of one refused connection that left launches unsent) end in
            # several passes when their launches answer at different times or their leases differ: the outage
            # is one failure, never a quarantine from a single blip.
            return
        p.memory.outage_counted.add(node)
    failures, quarantined = await q.add_node_infra_failure(p.conn, node)
    config = p.nodes.get(node)
    limit = config.quarantine_after if config else DEFAULT_QUARANTINE_AFTER
    if quarantined or failures < limit:
        return
    last = f"{end.reason.value}: {end.error}" if end.error else end.reason.value
    reason = f"{failures} infrastructure failures in a row (last: {last})"[:1000]
    await q.quarantine_node(p.conn, node, reason, p.at)
    cooldown = p.settings.quarantine_cooldown
    await q.insert_event(p.conn, p.at, EventKind.NODE_QUARANTINED, actor=ACTOR,
                         detail=f"node {node} quarantined after {reason}: no new work goes there until it passes "
                                f"a health check (every {cooldown:g}s) or `sluice undrain {node}`")
    p.memory.quarantine_check_at[node] = p.loop_now + cooldown


async def select_checks(p: PassContext) -> None:
    """Health-check quarantined nodes whose cool-down is over (a restarted scheduler waits one cool-down)."""
    memory = p.memory
    quarantined = set(await q.quarantined_nodes(p.conn))
    for node in list(memory.quarantine_check_at):
        if node not in quarantined:
            del memory.quarantine_check_at[node]  # lifted by an undrain
    for node in sorted(quarantined):
        if node not in p.nodes:
            continue  # not watched: nothing to check it with (an undrain still lifts it)
        due = memory.quarantine_check_at.setdefault(node, p.loop_now + p.settings.quarantine_cooldown)
        if p.loop_now >= due and node not in memory.checking:
            memory.checking.add(node)
            p.effects.checks.append(node)


async def apply_check(p: PassContext, item: CheckDone) -> None:
    memory = p.memory
    memory.checking.discard(item.node)
    p.effects.progressed = True
    if item.error is not None:
        memory.quarantine_check_at[item.node] = p.loop_now + p.settings.quarantine_cooldown
        return
    memory.quarantine_check_at.pop(item.node, None)
    memory.outage_counted.discard(item.node)
    if await q.lift_quarantine(p.conn, item.node, p.at):
        await q.insert_event(p.conn, p.at, EventKind.NODE_UNQUARANTINED, actor=ACTOR,
                             detail=f"node {item.node} passed a health check: it takes new work again")
