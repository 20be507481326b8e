"""One watcher per node: probes its running attempts, sends the signals the loop decided, checks it when quiet.

A watcher only talks to its node and reports what it learns through a small port; it never reads or writes
the store. A slow or partitioned node therefore delays only its own watcher."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Protocol

from ..config import NodeConfig
from ..executor import Executor, ProbeError, ProbeRequest, TargetUnavailable
from ..models import Attempt
from ..states import NodeState
from .inbox import FenceSent, InboxItem, ProbeDone, ProbeFailed, SignalOrder, SignalSent
from .settings import SchedulerSettings

log = logging.getLogger("sluice.watcher")


class WatcherPort(Protocol):
    """What a watcher needs from the central loop."""

    def probe_targets(self, node: str) -> list[Attempt]:
        """Committed running attempts on the node with no launch out."""
        ...

    def report(self, item: InboxItem) -> None:
        """Hand a fact to the loop and wake it."""
        ...

    def poke(self) -> None:
        """Wake the loop: the node's health may have changed."""
        ...


@dataclass
class WatchedNode:
    config: NodeConfig
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    #: Signals the loop decided to send, oldest first; one leaves the list only once it reached the node.
    signals: list[SignalOrder] = field(default_factory=list)
    #: Gone from nodes.toml but still running attempts: watched until they end, given no new work.
    retired: bool = False


class NodeWatcher:
    def __init__(self, node: WatchedNode, executor: Executor, port: WatcherPort, settings: SchedulerSettings) -> None:
        self.node = node
        self.name = node.config.name
        self.executor = executor
        self.port = port
        self.settings = settings
        self._last_check: float | None = None
        self._last_probe_error: str | None = None

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.node.wake.wait(), self.settings.poll_interval)
            self.node.wake.clear()
            try:
                await self._round()
            except TargetUnavailable:
                self.port.poke()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("watcher for node %s failed; retrying", self.name)
                await asyncio.sleep(self.settings.poll_interval)

    async def _round(self) -> None:
        await self._send_signals()
        running = self.port.probe_targets(self.name)
        if running:
            if self.executor.health(self.name)[0] == NodeState.UNKNOWN:
                # Connected but not yet seen able to watch jobs (after a restart, say): the prelude alone first,
                # so a probe that hangs on a slow filesystem cannot keep the node unknown and its failure unshown.
                await self._check_when_due()
            await self._probe(running)
        else:
            await self._check_when_due()

    async def _check_when_due(self) -> None:
        """Check a node not known to be up now and then, so it comes back (or is first seen) without work."""
        if self.executor.health(self.name)[0] == NodeState.UP:
            return
        loop_now = asyncio.get_running_loop().time()
        if self._last_check is None or loop_now - self._last_check >= self.settings.node_check_interval:
            self._last_check = loop_now
            try:
                await self.executor.check(self.name)
            finally:
                self.port.poke()

    async def _probe(self, attempts: list[Attempt]) -> None:
        requests = [ProbeRequest(a.remote_dir, a.stdout_offset, a.stderr_offset) for a in attempts]
        # One probe carries at most about max_chunk bytes in all, so a backlog on a slow link cannot time it out.
        per_stream = max(32 * 1024, self.settings.max_chunk // (2 * len(requests)))
        try:
            reports = await self.executor.probe(self.name, requests, per_stream)
        except ProbeError as exc:
            self._probe_failed(str(exc), attempts)
            return
        except TargetUnavailable as exc:
            if self.executor.health(self.name)[0] == NodeState.UP:
                # The node answers (keepalives pass) but the probe did not come back in time (a hung
                # filesystem, an overloaded worker): visible on the node and its runs, never silent.
                self._probe_failed(str(exc), attempts)
            raise
        self._last_probe_error = None
        applied: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.port.report(ProbeDone(self.name, list(zip(attempts, reports, strict=True)), applied))
        await applied  # never probe again before these offsets are committed: no byte twice
        if any(len(r.stdout_chunk) >= per_stream or len(r.stderr_chunk) >= per_stream for r in reports):
            self.node.wake.set()  # more output is waiting: poll again at once

    def _probe_failed(self, message: str, attempts: list[Attempt]) -> None:
        """Hand the loop every failed probe (it records a change only); log a message only when it changes."""
        if message != self._last_probe_error:
            log.warning("%s; probed again every %gs", message, self.settings.poll_interval)
            self._last_probe_error = message
        self.port.report(ProbeFailed(self.name, message, [attempt.id for attempt in attempts]))

    async def _send_signals(self) -> None:
        while self.node.signals:
            order = self.node.signals[0]
            try:
                await self.executor.signal(self.name, order.remote_dirs, order.signal)
            except Exception as exc:
                error = str(exc) or type(exc).__name__
                if error not in order.errors:  # a node that keeps failing: once per distinct error, however many tries
                    order.errors.add(error)
                    self.port.report(SignalSent(self.name, order.signal, order.attempt_ids or order.fence_ids,
                                                error))
                raise
            self.node.signals.pop(0)
            if order.fence_ids:
                self.port.report(FenceSent(self.name, order.fence_ids))
            if order.attempt_ids:
                self.port.report(SignalSent(self.name, order.signal, order.attempt_ids))
