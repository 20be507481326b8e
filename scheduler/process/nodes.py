"""Node health in a pass: record state changes, give up attempts whose lease ran out, fence them on return.

An unreachable node's jobs keep running there: its attempts are given up (and their runs dispatched again)
only once the lease is over, and a node that answers again has those stale attempts killed (fenced)."""

from __future__ import annotations

from dataclasses import replace

from ..leases import lease_of
from ..models import Attempt
from ..outcomes import AttemptEnd
from ..states import NODE_EVENTS, UNREACHABLE, AttemptStatus, EndReason, EventKind, KillReason, NodeState
from ..store import queries as q
from .attempts import end_attempt
from .context import ACTOR, PassContext
from .inbox import FenceSent, SignalOrder


async def node_health(p: PassContext, leases: dict[str, float | None], definitions: dict[int, dict[str, object]]) -> None:
    """Record node state changes; end the attempts of a node that has been unreachable past their lease."""
    memory = p.memory
    for name in leases:
        state, error = p.executor.health(name)
        recorded = memory.node_recorded.get(name, (NodeState.UNKNOWN, None))
        if (state, error) != recorded:
            await q.set_node_health(p.conn, name, state, error, p.at)
            kind = NODE_EVENTS.get(state)
            if state != recorded[0] and kind is not None:
                await q.insert_event(p.conn, p.at, kind, actor=ACTOR,
                                     detail=f"node {name}" + (f": {error}" if error else ""))
            memory.node_recorded[name] = (state, error)
            p.effects.progressed = True
        if state not in UNREACHABLE:
            if memory.down_since.pop(name, None) is not None:
                memory.outage_counted.discard(name)  # back: its next outage counts again
            continue
        if name not in memory.down_since:
            # The lease counts from here (a restarted scheduler counts anew: more time, never less), and the
            # store says so, for the CLI and console to tell when the node's attempts are given up.
            memory.down_since[name] = p.loop_now
            await q.set_node_down_since(p.conn, name, p.at)
        since = memory.down_since[name]
        for attempt in [a for a in memory.active.values() if a.node == name]:
            definition = definitions.get(attempt.run_id)
            if definition is None:  # the node went down after the definitions were read: read it now
                run = await q.get_run(p.conn, attempt.run_id)
                definition = run.definition if run else {}
            lease = lease_of(definition, leases[name], p.settings.node_lost_after)
            if attempt.lost_after != lease:  # a nodes.toml changed since dispatch: shown as it now counts
                await q.update_attempt(p.conn, attempt.id, lost_after=lease)
                attempt = memory.active[attempt.id] = replace(attempt, lost_after=lease)
            if p.loop_now - since >= lease:
                await end_attempt(p, attempt, AttemptEnd(
                    AttemptStatus.LOST, EndReason.NODE_LOST, None,
                    f"node {name} did not answer for {lease:g}s (its lease): dispatched again; the old attempt "
                    "is killed if the node comes back"))


async def record_accepted_host_keys(p: PassContext, nodes: list[str]) -> None:
    """An event for each host key the transport trusted on first use since the last pass, with its fingerprint."""
    recorded = p.memory.host_keys_recorded
    for name in nodes:
        accepted = p.executor.accepted_host_keys(name)
        for key in accepted[recorded.get(name, 0):]:
            await q.insert_event(p.conn, p.at, EventKind.HOST_KEY_ACCEPTED, actor=ACTOR,
                                 detail=f"node {name}: unknown host {key.target} trusted on first use "
                                        f"(host_key = \"accept-new\"): {key.algorithm} key {key.fingerprint}, "
                                        f"added at {key.known_hosts}:{key.line}")
            p.effects.progressed = True
        recorded[name] = len(accepted)


async def fence_returning(p: PassContext, nodes: list[str]) -> None:
    """Ask the watchers of nodes that answer to KILL the attempts given up while they were away."""
    up = [name for name in nodes if p.executor.health(name)[0] == NodeState.UP]
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
        await q.update_attempt(p.conn, attempt.id, kill_reason=KillReason.FENCED)
        await q.insert_event(p.conn, p.at, EventKind.FENCED, run_id=attempt.run_id, attempt=attempt.number,
                             actor=ACTOR,
                             detail=f"stale attempt on {attempt.node} killed after the node came back "
                                    "(its run had been dispatched again)")
    p.effects.progressed = True
