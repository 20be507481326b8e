"""One watcher per node: probes its running attempts, sends its pending signals, fences stale attempts.

A watcher only talks to its node; what it learns goes to the scheduler's central loop, which commits it. A
slow or partitioned node therefore delays only its own watcher."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .config import NodeConfig
from .executor import ProbeReport, ProbeRequest, TargetUnavailable
from .models import Attempt, to_iso
from .states import AttemptStatus
from .store import queries as q

if TYPE_CHECKING:
    from .scheduler import Scheduler

log = logging.getLogger("sluice.watcher")
ACTOR = "scheduler"


@dataclass
class ProbeDone:
    """A probe's reports, handed to the central loop; `applied` resolves once they are committed."""

    node: str
    reports: list[tuple[Attempt, ProbeReport]]
    applied: asyncio.Future[None]


@dataclass
class WatchedNode:
    config: NodeConfig
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    #: (signal, attempt folders) the central loop decided to send.
    signals: list[tuple[str, list[str]]] = field(default_factory=list)
    down_since: float | None = None
    #: The (state, error) last written to the store, so only changes are written.
    recorded: tuple[str, str | None] = ("unknown", None)


class NodeWatcher:
    def __init__(self, scheduler: Scheduler, node: WatchedNode) -> None:
        self.scheduler = scheduler
        self.node = node
        self.name = node.config.name
        self._last_check = 0.0

    async def run(self) -> None:
        settings = self.scheduler.settings
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.node.wake.wait(), settings.poll_interval)
            self.node.wake.clear()
            try:
                await self._round()
            except TargetUnavailable:
                self.scheduler.wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("watcher for node %s failed; retrying", self.name)
                await asyncio.sleep(settings.poll_interval)

    async def _round(self) -> None:
        scheduler = self.scheduler
        await self._send_signals()
        mine = [a for a in scheduler.active.values() if a.node == self.name and a.id not in scheduler.launching]
        for attempt in [a for a in mine if a.status == AttemptStatus.STARTING]:
            await scheduler.relaunch(attempt)
        running = [a for a in mine if a.status == AttemptStatus.RUNNING]
        if running:
            await self._probe(running)
        else:
            await self._check_if_down()
        await self._fence()

    async def _check_if_down(self) -> None:
        """Reconnect a down node now and then, so it comes back without waiting for work."""
        scheduler = self.scheduler
        loop_now = asyncio.get_running_loop().time()
        state, _ = scheduler.executor.health(self.name)
        if state not in ("up", "unknown") and loop_now - self._last_check >= scheduler.settings.node_check_interval:
            self._last_check = loop_now
            await scheduler.executor.check(self.name)
            scheduler.wake.set()

    async def _probe(self, attempts: list[Attempt]) -> None:
        scheduler = self.scheduler
        requests = [ProbeRequest(a.remote_dir, a.stdout_offset, a.stderr_offset) for a in attempts]
        # One probe carries at most ~max_chunk*2 bytes in all, so a backlog cannot time the probe out.
        per_stream = max(64 * 1024, scheduler.settings.max_chunk // max(1, len(requests)))
        reports = await scheduler.executor.probe(self.name, requests, per_stream)
        applied: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await scheduler.inbox.put(ProbeDone(self.name, list(zip(attempts, reports, strict=True)), applied))
        scheduler.wake.set()
        await applied  # never probe again before these offsets are committed: no byte twice
        if any(len(r.stdout_chunk) >= per_stream or len(r.stderr_chunk) >= per_stream for r in reports):
            self.node.wake.set()  # more output is waiting: poll again at once

    async def _send_signals(self) -> None:
        while self.node.signals:
            sig, dirs = self.node.signals[0]
            await self.scheduler.executor.signal(self.name, dirs, sig)
            self.node.signals.pop(0)

    async def _fence(self) -> None:
        """Kill attempts given up as lost on a node that answers again, so their side effects stop."""
        scheduler = self.scheduler
        db = scheduler.database
        stale = [a for a in await q.unfenced_lost_attempts(db.conn) if a.node == self.name]
        if not stale or scheduler.executor.health(self.name)[0] != "up":
            return
        await scheduler.executor.signal(self.name, [a.remote_dir for a in stale], "KILL")
        async with db.write() as conn:
            for attempt in stale:
                # Fenced, its folder is cleaned up after the retention like any ended attempt's.
                await q.update_attempt(conn, attempt.id, kill_reason="fenced")
                await q.insert_event(conn, to_iso(scheduler.clock()), "fenced", run_id=attempt.run_id,
                                     attempt=attempt.number, actor=ACTOR,
                                     detail=f"stale attempt on {attempt.node} killed after the node came back "
                                            "(its run had been dispatched again)")
