"""The scheduler process: one central loop that owns every write, and one watcher task per node.

Watchers only talk to their node (probe, signal, fence) and hand what they learn to the central loop, which
commits each pass's facts in one transaction (group commit) before anything acts on them. Stopping never
kills jobs: they run detached on the workers and are re-attached by the next start."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from .config import NodeConfig
from .engine import Clock, utcnow
from .executor import Executor, Launched, LaunchRequest, TargetUnavailable
from .home import Home
from .jobspec import attempt_dir, job_script
from .lock import SchedulerLock
from .logstore import LogStore
from .models import Attempt, Run, from_iso, to_iso
from .monitor import ProbeOutcome, record_output, store_output
from .outcomes import AttemptEnd, classify_exit, decide
from .planner import plan_dispatch
from .states import AttemptStatus, EndReason, RunStatus
from .store import Database, open_database
from .store import queries as q
from .triggers import TriggerPass
from .watcher import NodeWatcher, ProbeDone, WatchedNode

log = logging.getLogger("sluice.scheduler")
ACTOR = "scheduler"


@dataclass(frozen=True)
class SchedulerSettings:
    tick: float = 0.2
    poll_interval: float = 0.5
    max_chunk: int = 4 << 20
    node_lost_after: float = 60.0
    node_check_interval: float = 5.0
    retention: float = 3600.0
    cleanup_interval: float = 60.0
    scan_limit: int = 500


@dataclass
class _LaunchDone:
    attempt_id: int
    launched: Launched | None = None
    error: Exception | None = None


class Scheduler:
    def __init__(self, home: Home, executor: Executor, nodes: list[NodeConfig], *, clock: Clock = utcnow,
                 settings: SchedulerSettings | None = None, rng: random.Random | None = None) -> None:
        self.home = home
        self.executor = executor
        self.settings = settings or SchedulerSettings()
        self.clock = clock
        self.rng = rng or random.Random()
        self.logs = LogStore(home.logs_dir)
        self.nodes = {node.name: WatchedNode(node) for node in nodes}
        self.active: dict[int, Attempt] = {}
        self.launching: set[int] = set()
        self.inbox: asyncio.Queue[_LaunchDone | ProbeDone] = asyncio.Queue()
        self.wake = asyncio.Event()
        self.db: Database | None = None
        self.home_id = ""
        self._tasks: set[asyncio.Task[None]] = set()
        self._hard_killed: set[int] = set()
        #: run id -> timeout in seconds, for runs with an active attempt.
        self._timeouts: dict[int, float] = {}
        #: Attempts whose launch may have reached the worker: only the worker's answer or node loss ends them.
        self._maybe_sent: set[int] = set()
        self._last_cleanup = 0.0
        self.triggers: TriggerPass | None = None

    # --- lifecycle ----------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set; then stop dispatching and return without touching running jobs."""
        lock = SchedulerLock(self.home.ensure().lock_path)
        lock.acquire()
        try:
            self.db = await open_database(self.home.db_path)
            try:
                await self._start()
                while not stop.is_set():
                    await self._guarded_pass()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._sleep(stop), self.settings.tick)
                    self.wake.clear()
            finally:
                await self._shutdown()
        finally:
            lock.release()

    async def _sleep(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _start(self) -> None:
        db = self._db()
        async with db.write() as conn:
            self.home_id = await q.set_meta_default(conn, "home_id", uuid.uuid4().hex[:12])
            await q.ensure_nodes(conn, self.nodes, self._now())
            await q.insert_event(conn, self._now(), "scheduler_started", actor=ACTOR,
                                 detail=f"{len(self.nodes)} nodes")
        self.active = {attempt.id: attempt for attempt in await q.active_attempts(db.conn)}
        self.triggers = TriggerPass(self.home, db, self.clock)
        for attempt in self.active.values():
            run = await q.get_run(db.conn, attempt.run_id)
            if run is not None and run.definition.get("timeout"):
                self._timeouts[run.id] = float(run.definition["timeout"])
            if run is not None and attempt.kill_signal_at and attempt.status == AttemptStatus.RUNNING:
                # The TERM recorded before a stop may never have left: send it again while the grace lasts.
                started = from_iso(attempt.kill_signal_at)
                grace = float(run.definition.get("kill_grace", 30.0))
                if started and self.clock() - started < timedelta(seconds=grace) and attempt.node in self.nodes:
                    self.nodes[attempt.node].signals.append(("TERM", [attempt.remote_dir]))
            if attempt.status == AttemptStatus.STARTING:
                self._maybe_sent.add(attempt.id)
                await self.relaunch(attempt)  # the launch may or may not have happened: it is idempotent
        for view in self.nodes.values():
            self._spawn(NodeWatcher(self, view).run())

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
                    await q.insert_event(conn, self._now(), "scheduler_stopped", actor=ACTOR,
                                         detail=f"{len(self.active)} attempts left running on workers")
            await self.db.close()

    def _spawn(self, coroutine: object) -> None:
        task = asyncio.ensure_future(coroutine)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _db(self) -> Database:
        assert self.db is not None
        return self.db

    @property
    def database(self) -> Database:
        return self._db()

    def _now(self) -> str:
        return to_iso(self.clock())

    # --- the central pass ---------------------------------------------------------------------------------

    async def _guarded_pass(self) -> None:
        """A failing pass is loud (log and event) but never stops the scheduler: jobs are still out there."""
        try:
            await self._pass()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("scheduler pass failed; retrying in 1 s")
            with contextlib.suppress(Exception):
                async with self._db().write() as conn:
                    await q.insert_event(conn, self._now(), "scheduler_error", actor=ACTOR,
                                         detail=f"{type(exc).__name__}: {exc}"[:2000])
            await asyncio.sleep(1.0)

    async def _pass(self) -> None:
        items: list[_LaunchDone | ProbeDone] = []
        while not self.inbox.empty():
            items.append(self.inbox.get_nowait())
        outcomes = [(item, [store_output(self.logs, attempt, report) for attempt, report in item.reports])
                    for item in items if isinstance(item, ProbeDone)]
        signals: list[tuple[str, str, list[str]]] = []
        now = self.clock()
        try:
            async with self._db().write() as conn:
                for item in items:
                    if isinstance(item, _LaunchDone):
                        await self._apply_launch(conn, item, now)
                for _item, probe_outcomes in outcomes:
                    for outcome in probe_outcomes:
                        await self._apply_probe(conn, outcome, now)
                await self._kills(conn, now, signals)
                await self._node_health(conn, now)
                await self._due_retries(conn, now)
        finally:
            for item, _ in outcomes:
                if not item.applied.done():
                    item.applied.set_result(None)
        for node, sig, dirs in signals:
            self.nodes[node].signals.append((sig, dirs))
            self.nodes[node].wake.set()
        if self.triggers is not None:
            await self.triggers.run()
        await self._dispatch(now)
        await self._maybe_cleanup()

    async def _apply_launch(self, conn: object, item: _LaunchDone, now: datetime) -> None:
        self.launching.discard(item.attempt_id)
        attempt = self.active.get(item.attempt_id)
        if attempt is None:
            return
        at = to_iso(now)
        if item.launched is not None:
            fields = {"status": AttemptStatus.RUNNING.value, "pid": item.launched.pid,
                      "pid_start": item.launched.pid_start}
            await q.update_attempt(conn, attempt.id, **fields)  # type: ignore[arg-type]
            self.active[attempt.id] = replace(attempt, status=AttemptStatus.RUNNING.value, pid=item.launched.pid,
                                              pid_start=item.launched.pid_start)
            detail = f"on {attempt.node}, pid {item.launched.pid}"
            if item.launched.existing:
                detail += " (re-attached to the launch made before a restart)"
            await q.insert_event(conn, at, "attempt_started", run_id=attempt.run_id, attempt=attempt.number,  # type: ignore[arg-type]
                                 actor=ACTOR, detail=detail)
            return
        error = item.error
        if isinstance(error, TargetUnavailable) and (error.sent or attempt.id in self._maybe_sent):
            # It may have started: re-launch (idempotently) once the node answers, or lose it with the node.
            self._maybe_sent.add(attempt.id)
            return
        await self._end_attempt(conn, attempt, AttemptEnd(AttemptStatus.FAILED, EndReason.LAUNCH_FAILED, None,
                                                          str(error)), now)

    async def _apply_probe(self, conn: object, outcome: ProbeOutcome, now: datetime) -> None:
        attempt = self.active.get(outcome.attempt.id)
        if attempt is None or attempt.id in self.launching:
            return
        at = to_iso(now)
        if outcome.changed or outcome.progress or outcome.checkpoints:
            await record_output(conn, outcome, at)  # type: ignore[arg-type]
            attempt = replace(attempt, stdout_offset=outcome.stdout_offset, stderr_offset=outcome.stderr_offset,
                              parsed_offset=outcome.parsed_offset, log_error=outcome.log_error)
            self.active[attempt.id] = attempt
        state = outcome.report.state
        if outcome.complete:
            run = await q.get_run(conn, attempt.run_id)  # type: ignore[arg-type]
            assert run is not None
            code = int(run.definition.get("checkpoint_exit_code", 85))
            checkpointed = bool(outcome.checkpoints) or await q.attempt_has_checkpoint(  # type: ignore[arg-type]
                conn, attempt.run_id, attempt.number)
            await self._end_attempt(conn, attempt, classify_exit(attempt, outcome.report, code, checkpointed), now,
                                    run)
        elif state == "vanished":
            await self._end_attempt(conn, attempt, AttemptEnd(
                AttemptStatus.LOST, EndReason.NODE_LOST, None,
                "the job's process is gone and left no exit code (was the worker rebooted?)"), now)
        elif state == "missing" and attempt.status == AttemptStatus.RUNNING:
            await self._end_attempt(conn, attempt, AttemptEnd(
                AttemptStatus.LOST, EndReason.NODE_LOST, None, f"attempt folder {attempt.remote_dir} vanished"), now)
        elif state == "missing":
            await self.relaunch(attempt)

    async def _launch_failures(self, conn: object, run_id: int) -> int:
        """Launch failures in a row at the end of the run's attempt history."""
        count = 0
        for attempt in reversed(await q.attempts_for_run(conn, run_id)):  # type: ignore[arg-type]
            if attempt.reason != EndReason.LAUNCH_FAILED.value:
                break
            count += 1
        return count

    async def _end_attempt(self, conn: object, attempt: Attempt, end: AttemptEnd, now: datetime,
                           run: Run | None = None) -> None:
        """Close the attempt and move its run on, in the caller's transaction."""
        at = to_iso(now)
        await q.update_attempt(conn, attempt.id, status=end.status.value, reason=end.reason.value,  # type: ignore[arg-type]
                               exit_code=end.exit_code, error=end.error, ended_at=at)
        self.active.pop(attempt.id, None)
        self._hard_killed.discard(attempt.id)
        self._maybe_sent.discard(attempt.id)
        run = run or await q.get_run(conn, attempt.run_id)  # type: ignore[arg-type]
        assert run is not None
        if run.status != RunStatus.RUNNING or run.attempt != attempt.number:
            return
        failures = await self._launch_failures(conn, run.id) if end.reason == EndReason.LAUNCH_FAILED else 0
        decision = decide(run, end, now, self.rng, failures)
        fields: dict[str, object] = {"exit_code": end.exit_code, "next_attempt_at": decision.next_attempt_at,
                                     "cancel_requested": None}
        if decision.consumes:
            fields["attempts_used"] = run.attempts_used + 1
        if decision.target in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.TIMED_OUT):
            fields["ended_at"] = at
        detail = decision.detail + (f" ({end.error})" if end.error and end.error not in decision.detail else "")
        await q.transition_run(conn, run.id, decision.target, at, kind="attempt_ended", actor=ACTOR,  # type: ignore[arg-type]
                               detail=detail, on_attempt=attempt.number, **fields)
        self.wake.set()

    async def _kills(self, conn: object, now: datetime, signals: list[tuple[str, str, list[str]]]) -> None:
        """Start TERM for cancel requests and timeouts; KILL what is still alive after its grace period."""
        at = to_iso(now)
        cancels = {run.id: run for run in await q.runs_with_cancel_requested(conn)}  # type: ignore[arg-type]
        deadlines = {state.name: from_iso(state.drain_deadline) for state in await q.node_states(conn)  # type: ignore[arg-type]
                     if state.drained and state.drain_deadline}
        for attempt in list(self.active.values()):
            if attempt.status != AttemptStatus.RUNNING:
                continue
            reason = self._kill_reason(attempt, cancels, now)
            deadline = deadlines.get(attempt.node)
            if reason is None and deadline is not None and now >= deadline:
                reason = "drained"
            if reason and attempt.kill_reason is None:
                await q.update_attempt(conn, attempt.id, kill_reason=reason, kill_signal_at=at)  # type: ignore[arg-type]
                run = cancels.get(attempt.run_id)
                detail = f"TERM sent ({reason})"
                if run and run.cancel_requested and reason == "cancelled":
                    detail += f" requested by {run.cancel_requested.get('by')}"
                await q.insert_event(conn, at, "kill", run_id=attempt.run_id, attempt=attempt.number,  # type: ignore[arg-type]
                                     actor=ACTOR, detail=detail)
                self.active[attempt.id] = replace(attempt, kill_reason=reason, kill_signal_at=at)
                signals.append((attempt.node, "TERM", [attempt.remote_dir]))
            elif attempt.kill_signal_at and attempt.id not in self._hard_killed:
                grace = float((await self._definition(conn, attempt)).get("kill_grace", 30.0))
                started = from_iso(attempt.kill_signal_at)
                if started and now - started >= timedelta(seconds=grace):
                    self._hard_killed.add(attempt.id)
                    await q.insert_event(conn, at, "kill", run_id=attempt.run_id, attempt=attempt.number,  # type: ignore[arg-type]
                                         actor=ACTOR, detail=f"KILL sent after a grace period of {grace:g}s")
                    signals.append((attempt.node, "KILL", [attempt.remote_dir]))

    def _kill_reason(self, attempt: Attempt, cancels: dict[int, object], now: datetime) -> str | None:
        if attempt.run_id in cancels:
            return "cancelled"
        timeout = self._timeouts.get(attempt.run_id)
        started = from_iso(attempt.started_at)
        if timeout and started and now - started >= timedelta(seconds=timeout):
            return "timeout"
        return None

    async def _definition(self, conn: object, attempt: Attempt) -> dict[str, object]:
        run = await q.get_run(conn, attempt.run_id)  # type: ignore[arg-type]
        return run.definition if run else {}

    async def _due_retries(self, conn: object, now: datetime) -> None:
        at = to_iso(now)
        for run in await q.due_retries(conn, at):  # type: ignore[arg-type]
            await q.transition_run(conn, run.id, RunStatus.QUEUED, at, kind="retry_due", actor=ACTOR,  # type: ignore[arg-type]
                                   detail=f"backoff over: attempt {run.attempt + 1} queued", next_attempt_at=None)

    # --- nodes --------------------------------------------------------------------------------------------

    async def _node_health(self, conn: object, now: datetime) -> None:
        """Record node state changes; end the attempts of a node that has been down past the heartbeat timeout."""
        loop_now = asyncio.get_running_loop().time()
        for name, view in self.nodes.items():
            state, error = self.executor.health(name)
            if (state, error) != view.recorded:
                await q.set_node_health(conn, name, state, error, to_iso(now))  # type: ignore[arg-type]
                if state != view.recorded[0]:
                    await q.insert_event(conn, to_iso(now), f"node_{state}", actor=ACTOR,  # type: ignore[arg-type]
                                         detail=f"node {name}" + (f": {error}" if error else ""))
                view.recorded = (state, error)
            if state in ("down", "refused"):
                view.down_since = view.down_since or loop_now
                if loop_now - view.down_since >= self.settings.node_lost_after:
                    await self._lose_node_attempts(conn, name, now)
            else:
                view.down_since = None

    async def _lose_node_attempts(self, conn: object, node: str, now: datetime) -> None:
        for attempt in [a for a in self.active.values() if a.node == node]:
            self.launching.discard(attempt.id)
            await self._end_attempt(conn, attempt, AttemptEnd(
                AttemptStatus.LOST, EndReason.NODE_LOST, None,
                f"node {node} did not answer for {self.settings.node_lost_after:g}s"), now)

    # --- dispatch -----------------------------------------------------------------------------------------

    def _health(self, name: str) -> tuple[bool, str | None]:
        state, error = self.executor.health(name)
        if state in ("up", "unknown"):
            return True, None
        return False, f"{state}: {error}" if error else state

    async def _dispatch(self, now: datetime) -> None:
        if not any(view.config.slots for view in self.nodes.values()):
            return
        db = self._db()
        plan = await plan_dispatch(db, [view.config for view in self.nodes.values()], self._health,
                                   self.settings.scan_limit)
        if not plan:
            return
        at = to_iso(now)
        launches: list[tuple[Attempt, bytes]] = []
        async with db.write() as conn:
            for run, node in plan:
                current = await q.get_run(conn, run.id)
                if current is None or current.status != RunStatus.QUEUED:
                    continue  # cancelled or changed since the plan was read
                number = current.attempt + 1
                checkpoint = await q.latest_checkpoint(conn, run.id, current.checkpoint_floor)
                value = checkpoint.value if checkpoint else None
                remote = attempt_dir(node.workdir, self.home_id, run.id, number)
                attempt_id = await q.insert_attempt(conn, run.id, number, node.name, remote, value, at)
                await q.transition_run(conn, run.id, RunStatus.RUNNING, at, kind="dispatched", actor=ACTOR,
                                       detail=f"attempt {number} on {node.name}"
                                       + (" from its latest checkpoint" if value is not None else ""),
                                       on_attempt=number, attempt=number, node=node.name, started_at=at,
                                       exit_code=None)
                attempt = await q.get_attempt(conn, attempt_id)
                assert attempt is not None
                launches.append((attempt, job_script(replace(current, attempt=number), number, value)))
                timeout = current.definition.get("timeout")
                if timeout:
                    self._timeouts[run.id] = float(timeout)
        for attempt, script in launches:
            self.active[attempt.id] = attempt
            self._start_launch(attempt, script)

    def _start_launch(self, attempt: Attempt, script: bytes) -> None:
        self.launching.add(attempt.id)
        self._spawn(self._launch(attempt, script))

    async def relaunch(self, attempt: Attempt) -> None:
        if attempt.id in self.launching:
            return
        run = await q.get_run(self._db().conn, attempt.run_id)
        assert run is not None
        self._start_launch(attempt, job_script(run, attempt.number, attempt.checkpoint_in))

    async def _launch(self, attempt: Attempt, script: bytes) -> None:
        done = _LaunchDone(attempt.id)
        try:
            done.launched = await self.executor.launch(attempt.node, LaunchRequest(attempt.remote_dir, script))
        except Exception as exc:  # every failure becomes a recorded launch failure, never a silent loss
            done.error = exc
        await self.inbox.put(done)
        self.wake.set()

    # --- worker folder cleanup ----------------------------------------------------------------------------

    async def _maybe_cleanup(self) -> None:
        loop_now = asyncio.get_running_loop().time()
        if loop_now - self._last_cleanup < self.settings.cleanup_interval:
            return
        self._last_cleanup = loop_now
        cutoff = to_iso(self.clock() - timedelta(seconds=self.settings.retention))
        old = await q.attempts_to_clean(self._db().conn, cutoff)
        by_node: dict[str, list[Attempt]] = {}
        for attempt in old:
            if attempt.node in self.nodes:
                by_node.setdefault(attempt.node, []).append(attempt)
        for node, attempts in by_node.items():
            self._spawn(self._cleanup(node, attempts))

    async def _cleanup(self, node: str, attempts: list[Attempt]) -> None:
        with contextlib.suppress(TargetUnavailable):
            await self.executor.remove(node, [a.remote_dir for a in attempts])
            async with self._db().write() as conn:
                for attempt in attempts:
                    await q.update_attempt(conn, attempt.id, cleaned=1)
