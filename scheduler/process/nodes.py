"""Node health in a pass: record state changes, give up attempts whose lease ran out, fence them on return.

An unreachable node's jobs keep running there: its attempts are given up (and their runs dispatched again)
only once the lease is over, and a node that answers again has those stale attempts killed (fenced)."""

from __future__ import annotations

from ..models import Attempt
from ..outcomes import AttemptEnd
from ..states import AttemptStatus, EndReason
from ..store import queries as q
from .attempts import end_attempt
from .context import ACTOR, PassContext
from .inbox import FenceSent, SignalOrder


def lease_of(attempt: Attempt, node_lease: float | None, definition: dict[str, object], default: float) -> float:
    """Seconds an attempt outlives its node's silence: the job's own lease, else the node's, else the default."""
    job_lease = definition.get("lost_after")
    if job_lease is not None:
        return float(job_lease)  # type: ignore[arg-type]
    return node_lease if node_lease is not None else default


async def node_health(p: PassContext, leases: dict[str, float | None], definitions: dict[int, dict[str, object]]) -> None:
    """Record node state changes; end the attempts of a node that has been unreachable past their lease."""
    memory = p.memory
    for name in leases:
        state, error = p.executor.health(name)
        if (state, error) != memory.node_recorded.get(name, ("unknown", None)):
            await q.set_node_health(p.conn, name, state, error, p.at)
            if state != memory.node_recorded.get(name, ("unknown", None))[0]:
                await q.insert_event(p.conn, p.at, f"node_{state}", actor=ACTOR,
                                     detail=f"node {name}" + (f": {error}" if error else ""))
            memory.node_recorded[name] = (state, error)
            p.effects.progressed = True
        if state not in ("down", "refused"):
            memory.down_since.pop(name, None)
            continue
        since = memory.down_since.setdefault(name, p.loop_now)
        for attempt in [a for a in memory.active.values() if a.node == name]:
            lease = lease_of(attempt, leases[name], definitions.get(attempt.run_id, {}), p.settings.node_lost_after)
            if p.loop_now - since >= lease:
                await end_attempt(p, attempt, AttemptEnd(
                    AttemptStatus.LOST, EndReason.NODE_LOST, None,
                    f"node {name} did not answer for {lease:g}s (its lease): dispatched again; the old attempt "
                    "is killed if the node comes back"))


async def fence_returning(p: PassContext, nodes: list[str]) -> None:
    """Ask the watchers of nodes that answer to KILL the attempts given up while they were away."""
    up = [name for name in nodes if p.executor.health(name)[0] == "up"]
    stale = [a for a in await q.unfenced_lost_attempts(p.conn, up) if a.id not in p.memory.fencing]
    by_node: dict[str, list[Attempt]] = {}
    for attempt in stale:
        by_node.setdefault(attempt.node, []).append(attempt)
    for node, attempts in by_node.items():
        p.memory.fencing.update(a.id for a in attempts)
        p.effects.signal(node, SignalOrder("KILL", [a.remote_dir for a in attempts], [a.id for a in attempts]))


async def apply_fence(p: PassContext, item: FenceSent) -> None:
    for attempt_id in item.attempt_ids:
        p.memory.fencing.discard(attempt_id)
        attempt = await q.get_attempt(p.conn, attempt_id)
        if attempt is None:
            continue
        # Fenced, its folder is cleaned up after the retention like any ended attempt's.
        await q.update_attempt(p.conn, attempt.id, kill_reason="fenced")
        await q.insert_event(p.conn, p.at, "fenced", run_id=attempt.run_id, attempt=attempt.number, actor=ACTOR,
                             detail=f"stale attempt on {attempt.node} killed after the node came back "
                                    "(its run had been dispatched again)")
    p.effects.progressed = True
