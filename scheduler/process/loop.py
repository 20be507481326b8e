"""The central loop: it owns every write to the store and the memory that mirrors it.

Each pass turns what its helpers reported (launches, probes, fences, cleanups) and what the clock says
(kills, leases, retries) into facts, commits them in one transaction (group commit), and only then swaps in
the memory the pass worked on and acts: signals, launches, cleanups. A failed pass leaves memory as the store
has it and keeps its inbox items for the next pass. Stopping never kills jobs: they run detached on the
workers and are re-attached by the next start."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections import deque
from collections.abc import Coroutine
from datetime import datetime
from typing import Any

import aiosqlite

from ..clock import Clock, utcnow
from ..config import NodeConfig
from ..errors import StoreBusy
from ..executor import Executor, LaunchRequest
from ..failpoints import crash_point
from ..home import Home
from ..lock import SchedulerLock
from ..logstore import LogStore
from ..models import Attempt, to_iso
from ..monitor import CaptureStalls, store_output
from ..states import UNREACHABLE, AttemptStatus, EventKind, NodeState, RunStatus
from ..store import Database, open_database
from ..store import queries as q
from ..triggers import TriggerPass
from . import activity
from . import attempts as attempt_steps
from .cleanup import apply_cleanup, select_cleanups
from .context import ACTOR, PassContext
from .dispatch import dispatch
from .inbox import CheckDone, CleanupDone, FenceSent, InboxItem, LaunchDone, ProbeDone, SignalSent
from .kills import kills, resend_term_after_restart
from .memory import Effects, Memory
from .nodes import apply_fence, fence_returning, node_health, record_accepted_host_keys
from .probe_errors import apply_probe_results
from .quarantine import apply_check, select_checks
from .settings import SchedulerSettings
from .watcher import NodeWatcher, WatchedNode

log = logging.getLogger("sluice.scheduler")


class Scheduler:
    def __init__(self, home: Home, executor: Executor, nodes: list[NodeConfig], *, clock: Clock = utcnow,
                 settings: SchedulerSettings | None = None, rng: random.Random | None = None) -> None:
        self.home = home
        self.executor = executor
        self.settings = settings or SchedulerSettings()
        self.clock = clock
        self.rng = rng or random.Random()
        self.logs = LogStore(home.logs_dir)
        self.stalls = CaptureStalls()
        self.nodes = {node.name: WatchedNode(node) for node in nodes}
        self.memory = Memory()
        self.inbox: deque[InboxItem] = deque()
        self.wake = asyncio.Event()
        self.db: Database | None = None
        self.home_id = ""
        self.triggers: TriggerPass | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_cleanup: float | None = None
        self._last_error: str | None = None
        self._busy_since: datetime | None = None

    # --- lifecycle ----------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None, *, until_idle: bool = False) -> None:
        """Run until `stop` is set (or, with until_idle, until nothing more can happen now); jobs keep running."""
        stop = stop or asyncio.Event()
        lock = SchedulerLock(self.home.ensure().lock_path)
        lock.acquire()
        try:
            self.db = await open_database(self.home.db_path)
            try:
                await self._start()
                while not stop.is_set():
                    progressed = await self._guarded_pass()
                    if until_idle and not progressed and await self._idle() and not await self._triggers_due():
                        return
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._sleep(stop), self.settings.tick)
                    self.wake.clear()
            finally:
                await self._shutdown()
        finally:
            lock.release()

    async def run_until_idle(self) -> None:
        """Passes until no attempt is out, nothing is reported, and a pass finds nothing to do (arq's burst)."""
        await self.run(until_idle=True)

    async def _sleep(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _start(self) -> None:
        db = self._db()
        now = self.clock()
        active = await q.active_attempts(db.conn)
        async with db.write() as conn:
            self.home_id = await q.set_meta_default(conn, "home_id", uuid.uuid4().hex[:12])
            await q.ensure_nodes(conn, self.nodes, to_iso(now))
            await q.save_node_configs(conn, {name: view.config.model_dump_json() for name, view in self.nodes.items()},
                                      to_iso(now))
            await q.insert_event(conn, to_iso(now), EventKind.SCHEDULER_STARTED, actor=ACTOR,
                                 detail=f"{len(self.nodes)} nodes")
            await self._keep_watching_removed_nodes(conn, active, now)
        memory = Memory()
        for attempt in active:
            memory.active[attempt.id] = attempt
            run = await q.get_run(db.conn, attempt.run_id)
            if run is None:
                continue
            if run.definition.get("timeout"):
                memory.timeouts[run.id] = float(run.definition["timeout"])
            order = resend_term_after_restart(attempt, run, now)
            if order is not None and attempt.node in self.nodes:
                self.nodes[attempt.node].signals.append(order)
            # A starting attempt's launch may or may not have happened: it is relaunched (idempotently)
            # once its node answers.
            if attempt.status == AttemptStatus.STARTING:
                memory.maybe_sent.add(attempt.id)
        self.memory = memory
        self.triggers = TriggerPass(self.home, db, self.clock)
        for view in self.nodes.values():
            self._spawn(NodeWatcher(view, self.executor, self, self.settings).run())

    async def _keep_watching_removed_nodes(self, conn: aiosqlite.Connection, active: list[Attempt],
                                          now: datetime) -> None:
        """A node gone from nodes.toml (removed or renamed) that still runs attempts is watched, with the settings
        it had, until they end; it takes no new work. Without known settings it is a node that never answers:
        its attempts are dispatched again once their lease is over. Never a stuck run, never a second copy."""
        gone = sorted({a.node for a in active} - set(self.nodes))
        for name, stored in (await q.node_configs(conn, gone)).items():
            count = sum(1 for a in active if a.node == name)
            config = NodeConfig.model_validate_json(stored) if stored else NodeConfig(name=name, host="unknown.invalid")
            self.nodes[name] = WatchedNode(config, retired=True)
            self.executor.add_target(config)
            how = ("watched with the settings it had until they end" if stored else
                   "its settings are unknown, so they are dispatched again once their lease is over")
            await q.insert_event(conn, to_iso(now), EventKind.NODE_RETIRED, actor=ACTOR,
                                 detail=f"node {name} is no longer in nodes.toml but still has {count} "
                                        f"attempt(s): {how}; no new work goes there")

    async def _shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.executor.close()
        if self.db is not None:
            with contextlib.suppress(Exception):
                async with self.db.write() as conn:
                    await q.insert_event(conn, to_iso(self.clock()), EventKind.SCHEDULER_STOPPED, actor=ACTOR,
                                         detail=f"{len(self.memory.active)} attempts left running on workers")
            await self.db.close()

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _db(self) -> Database:
        assert self.db is not None
        return self.db

    @property
    def database(self) -> Database:
        return self._db()

    # --- the watchers' port -------------------------------------------------------------------------------

    def probe_targets(self, node: str) -> list[Attempt]:
        memory = self.memory
        return [a for a in memory.active.values()
                if a.node == node and a.status == AttemptStatus.RUNNING and a.id not in memory.launching]

    def report(self, item: InboxItem) -> None:
        self.inbox.append(item)
        self.wake.set()

    def poke(self) -> None:
        self.wake.set()

    # --- the central pass ---------------------------------------------------------------------------------

    async def _guarded_pass(self) -> bool:
        """A failing pass is loud (log and event) but never stops the scheduler: jobs are still out there."""
        try:
            progressed = await self._pass()
            progressed |= await self._dispatch()
            if self.triggers is not None:
                progressed |= await self.triggers.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._report_failure(exc)
            await asyncio.sleep(1.0)
            return True
        self._last_error = None
        if self._busy_since is not None:
            with contextlib.suppress(Exception):  # still busy: said once it answers, by a later pass
                await self._report_busy_over()
        return progressed

    async def _report_failure(self, exc: Exception) -> None:
        message = f"{type(exc).__name__}: {exc}"[:2000]
        if message == self._last_error:
            return  # the same fault again: once in the log and the events is enough
        self._last_error = message
        if isinstance(exc, StoreBusy):
            # Writing an event now would wait for the same lock: say it once the store answers again.
            self._busy_since = self._busy_since or self.clock()
            log.error("%s; the pass's work is kept and retried", exc)
            return
        log.error("scheduler pass failed (%s); its work is kept and retried", message, exc_info=exc)
        with contextlib.suppress(Exception):
            async with self._db().write() as conn:
                await q.insert_event(conn, to_iso(self.clock()), EventKind.SCHEDULER_ERROR, actor=ACTOR,
                                     detail=message)

    async def _report_busy_over(self) -> None:
        assert self._busy_since is not None
        seconds = (self.clock() - self._busy_since).total_seconds()
        async with self._db().write() as conn:
            await q.insert_event(conn, to_iso(self.clock()), EventKind.STORE_BUSY, actor=ACTOR,
                                 detail=f"the store was busy (locked by another connection) for about {seconds:.0f}s; "
                                        "the scheduler waited and lost nothing")
        self._busy_since = None  # only once the event is committed

    async def _pass(self) -> bool:
        items = list(self.inbox)
        self.inbox.clear()
        working = self.memory.copy()
        effects = Effects(progressed=bool(items))
        try:
            await self._apply(items, working, effects)
        except BaseException:
            self.inbox.extendleft(reversed(items))  # nothing of this pass was committed: handle it again
            raise
        self.memory = working
        self._act(effects)
        return effects.progressed

    async def _apply(self, items: list[InboxItem], working: Memory, effects: Effects) -> None:
        seen_at = to_iso(self.clock())
        probes = [(item, [store_output(self.logs, attempt, report, self.stalls, seen_at)
                          for attempt, report in item.reports])
                  for item in items if isinstance(item, ProbeDone)]
        loop_now = asyncio.get_running_loop().time()
        async with self._db().write() as conn:
            p = PassContext(conn, working, effects, self.clock(), loop_now, self.settings, self.executor,
                            self.rng, self.home_id, {name: view.config for name, view in self.nodes.items()})
            for item in items:
                if isinstance(item, LaunchDone):
                    await attempt_steps.apply_launch(p, item)
                elif isinstance(item, FenceSent):
                    await apply_fence(p, item)
                elif isinstance(item, CleanupDone):
                    await apply_cleanup(p, item)
                elif isinstance(item, CheckDone):
                    await apply_check(p, item)
                elif isinstance(item, SignalSent):
                    await activity.apply_signal_sent(p, item)
            for item, outcomes in probes:
                for outcome in outcomes:
                    await attempt_steps.apply_probe(p, outcome)
                effects.applied.append(item.applied)
            await apply_probe_results(p, items)
            await activity.apply_probe_activity(p, items)
            await kills(p)
            await record_accepted_host_keys(p, list(self.nodes))
            await node_health(p, {name: view.config.lost_after for name, view in self.nodes.items()},
                              await self._definitions(p))
            await fence_returning(p, list(self.nodes))
            await select_checks(p)
            await attempt_steps.relaunch_starting(p, {name for name in self.nodes if self._reachable(name)})
            await self._due_retries(p)
            if self._cleanup_due(loop_now):
                await select_cleanups(p, set(self.nodes))
            # Test hooks (scheduler/failpoints.py): die with this pass's writes made but not committed.
            outcomes = [outcome for _, reported in probes for outcome in reported]
            if any(o.stdout_offset > o.attempt.stdout_offset or o.stderr_offset > o.attempt.stderr_offset
                   for o in outcomes):
                crash_point("log_appended")
            if any(o.complete for o in outcomes):
                crash_point("exit_read")

    async def _definitions(self, p: PassContext) -> dict[int, dict[str, object]]:
        """Run definitions of attempts on unreachable nodes, for their leases (none read while all answer)."""
        down = {name for name in self.nodes if self.executor.health(name)[0] in UNREACHABLE}
        run_ids = [a.run_id for a in p.memory.active.values() if a.node in down]
        return {run.id: run.definition for run in await q.get_runs(p.conn, run_ids)} if run_ids else {}

    async def _due_retries(self, p: PassContext) -> None:
        for run in await q.due_retries(p.conn, p.at):
            await q.transition_run(p.conn, run.id, RunStatus.QUEUED, p.at, kind=EventKind.RETRY_DUE, actor=ACTOR,
                                   detail=f"backoff over: attempt {run.attempt + 1} queued", next_attempt_at=None)
            p.effects.progressed = True

    def _cleanup_due(self, loop_now: float) -> bool:
        if self._last_cleanup is not None and loop_now - self._last_cleanup < self.settings.cleanup_interval:
            return False
        self._last_cleanup = loop_now
        return True

    def _act(self, effects: Effects) -> None:
        """What the committed pass decided to do outside the store."""
        for future in effects.applied:
            if not future.done():
                future.set_result(None)
        self.stalls.settle(effects.stalls_ended, set(self.memory.active))
        for node, orders in effects.signals.items():
            view = self.nodes.get(node)
            if view is None:  # cannot happen: every active attempt's node is watched (retired if need be)
                log.error("no watcher for node %s: %d signal(s) not sent", node, len(orders))
                continue
            view.signals.extend(orders)
            view.wake.set()
        for attempt, request in effects.launches:
            self._spawn(self._launch(attempt, request))
        for node, cleaned in effects.cleanups.items():
            self._spawn(self._cleanup(node, [a.id for a in cleaned], [a.remote_dir for a in cleaned]))
        for node in effects.checks:
            self._spawn(self._check(node))

    # --- dispatch and launches ----------------------------------------------------------------------------

    def _reachable(self, name: str) -> bool:
        return self.executor.health(name)[0] == NodeState.UP

    def _health(self, name: str) -> tuple[bool, str | None]:
        state, error = self.executor.health(name)
        if state == NodeState.UP:
            return True, None
        if state == NodeState.UNKNOWN:
            return False, "not checked yet"  # a node is checked before the first dispatch to it
        return False, f"{state}: {error}" if error else state

    async def _dispatch(self) -> bool:
        targets = [view.config for view in self.nodes.values() if not view.retired]
        if not targets:
            return False
        started = await dispatch(self._db(), targets, self._health,
                                 self.settings.scan_limit, self.home_id, self.clock(), self.settings.node_lost_after)
        if started:
            crash_point("dispatch_committed")  # test hook: attempts committed as starting, no launch sent
        memory = self.memory  # committed: now memory may follow
        for attempt, request, timeout in started:
            memory.active[attempt.id] = attempt
            if timeout:
                memory.timeouts[attempt.run_id] = timeout
            memory.launching.add(attempt.id)
            self._spawn(self._launch(attempt, request))
        return bool(started)

    async def _launch(self, attempt: Attempt, request: LaunchRequest) -> None:
        done = LaunchDone(attempt.id)
        try:
            done.launched = await self.executor.launch(attempt.node, request)
            crash_point("launch_answered")  # test hook: the job runs on the worker, its start is not committed
        except Exception as exc:  # every failure becomes a recorded launch failure, never a silent loss
            done.error = exc
        self.report(done)

    async def _cleanup(self, node: str, attempt_ids: list[int], remote_dirs: list[str]) -> None:
        try:
            await self.executor.remove(node, remote_dirs)
        except Exception as exc:
            log.warning("cleanup on node %s failed (%s); retried after the next interval", node, exc)
            self.report(CleanupDone(node, [], failed_ids=attempt_ids))
            return
        self.report(CleanupDone(node, attempt_ids))

    async def _check(self, node: str) -> None:
        """A quarantined node's health check after its cool-down."""
        done = CheckDone(node)
        try:
            await self.executor.check(node)
        except Exception as exc:
            done.error = str(exc) or type(exc).__name__
        self.report(done)

    # --- run until idle -----------------------------------------------------------------------------------

    async def _triggers_due(self) -> bool:
        """Run the triggers now (not only once a second): a schedule or a finished backfill is work too."""
        return self.triggers is not None and await self.triggers.run(force=True)

    def _unrecorded(self, name: str) -> bool:
        """The node's health or its host keys trusted on first use changed since a pass recorded them."""
        memory = self.memory
        return (self.executor.health(name) != memory.node_recorded.get(name, (NodeState.UNKNOWN, None))
                or len(self.executor.accepted_host_keys(name)) > memory.host_keys_recorded.get(name, 0))

    async def _idle(self) -> bool:
        memory = self.memory
        if self.inbox or memory.active or memory.launching or memory.fencing or memory.cleaning or memory.checking:
            return False
        if any(view.signals and self.executor.health(name)[0] == NodeState.UP for name, view in self.nodes.items()):
            return False  # signals for a node that does not answer wait for it; that is no work for now
        if any(self.executor.health(name)[0] == NodeState.UNKNOWN
               for name, view in self.nodes.items() if not view.retired):
            return False  # not checked yet: it may take work once it answers
        if any(self._unrecorded(name) for name in self.nodes):
            return False  # a connection ended after the pass read the node: the store must say so first
        return await q.next_retry_at(self._db().conn) is None
