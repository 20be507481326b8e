"""The engine facade: the one API the CLI and the console call. It never talks SSH; the scheduler does that."""

from __future__ import annotations

import fcntl
import getpass
import os
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from . import backfills as bf
from .activity import ActivityEntry as ActivityEntry
from .activity import activity_of
from .catalog import TRIGGER_NOTE, job_catalog, trigger_partition
from .catalog import JobSummary as JobSummary
from .clock import Clock, TimeText, utc_clock_text, utcnow
from .config import NAME_PATTERN, JobDefinition, NodeConfig, load_jobs, load_nodes, load_queues
from .context import fill_upstream_blocks, load_context, store_health
from .cron import next_tick
from .errors import NotFound, UsageError
from .home import Home
from .jobspec import partition_of, resolve_params
from .leases import lease_of, unreachable_reason
from .logstore import LogStore
from .models import (
    Arrival,
    Attempt,
    Backfill,
    Checkpoint,
    Event,
    NodeRecord,
    QueueState,
    Run,
    from_iso,
    to_iso,
)
from .process.settings import DEFAULT_LOST_AFTER
from .run_actions import ActionResult as ActionResult
from .run_actions import because, cancel_one, retry_one
from .run_filter import RunFilter
from .run_order import RunOrder
from .states import (
    ATTEMPT_ACTIVITY,
    BACKFILL_ENDED,
    DEAD_LETTERS,
    ENDED,
    UNREACHABLE,
    UNSUCCESSFUL,
    WAITING,
    BackfillStatus,
    EventKind,
    NodeState,
    RunStatus,
    ordered,
)
from .store import Database, open_database
from .store import queries as q
from .store.readonly import open_readonly

T = TypeVar("T")


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return str(os.getuid())


@dataclass(frozen=True)
class RunDetail:
    run: Run
    attempts: list[Attempt]
    events: list[Event]
    checkpoints: list[Checkpoint]
    #: While it runs: why its node cannot report on it (a failing probe, an unreachable node), else None.
    node_error: str | None = None
    #: Its attempts' launch tries, failing probes, signals, fences and ends (from its events), oldest first.
    activity: list[ActivityEntry] = field(default_factory=list)


@dataclass(frozen=True)
class NodeView:
    config: NodeConfig
    state: NodeRecord | None
    slots_used: int
    running: list[int]

    @property
    def status(self) -> str:
        if self.state and self.state.drained:
            return NodeState.DRAINED
        if self.state and self.state.quarantined_at:
            return NodeState.QUARANTINED
        return self.state.state if self.state else NodeState.UNKNOWN


@dataclass(frozen=True)
class RunBoard:
    """The runs the overview lists: running now (newest first), waiting (longest first), the latest ended with
    failures first."""

    running: list[Run]
    waiting: list[Run]
    ended: list[Run]


class Engine:
    """Opens the store of one home; every method is one short transaction, committed before it returns."""

    def __init__(self, home: Home, db: Database, clock: Clock = utcnow, actor: str | None = None,
                 show_time: TimeText = utc_clock_text) -> None:
        self.home = home
        self.db = db
        self.clock = clock
        self.actor = actor or os_user()
        #: How the times inside wait reasons read: the caller's zone for people, UTC by default (and for --json).
        self.show_time = show_time
        self.logs = LogStore(home.logs_dir)

    @classmethod
    async def open(cls, home: Home, clock: Clock = utcnow, actor: str | None = None,
                   readonly: bool = False, show_time: TimeText = utc_clock_text) -> Engine:
        """Open the home's store; `readonly` changes nothing on disk (no migration, no queues.toml sync)."""
        if readonly:
            load_queues(home.queues_file)  # a bad queues.toml is refused by every command alike, but not synced
            return cls(home, await open_readonly(home.db_path), clock, actor, show_time)
        home.require_writable()
        home.ensure()
        db = await open_database(home.db_path)
        engine = cls(home, db, clock, actor, show_time)
        try:
            await engine._sync_queues()
        except BaseException:
            await db.close()
            raise
        return engine

    async def close(self) -> None:
        await self.db.close()

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def now(self) -> str:
        return to_iso(self.clock())

    # --- configuration ------------------------------------------------------------------------------------

    def jobs(self) -> dict[str, JobDefinition]:
        return load_jobs(self.home.jobs_dir)

    def job(self, name: str) -> JobDefinition:
        jobs = self.jobs()
        if name not in jobs:
            known = ", ".join(sorted(jobs)) or "none"
            raise NotFound(f"job {name!r} is not defined in {self.home.jobs_dir} (defined: {known})")
        return jobs[name]

    async def job_summaries(self) -> list[JobSummary]:
        """Every job file, valid or with its error, with its schedule's next tick and its newest run."""
        entries = job_catalog(self.home.jobs_dir)
        now = self.clock()
        last = await self._read(q.last_run_of_jobs, [entry.name for entry in entries])
        summaries = []
        for entry in entries:
            job = entry.definition
            tick, partition = None, None
            if job is not None and job.schedule:
                tick, partition = next_tick(job.schedule, job.timezone, now), trigger_partition(job, now)
            summaries.append(JobSummary(entry, to_iso(tick) if tick else None, last.get(entry.name), partition))
        return summaries

    def node_configs(self) -> list[NodeConfig]:
        return load_nodes(self.home.nodes_file)

    async def _sync_queues(self) -> None:
        configured = load_queues(self.home.queues_file)
        if not configured:
            return
        async with self.db.write() as conn:
            for queue in configured:
                await q.configure_queue(conn, queue.name, queue.priority, queue.max_running)

    # --- submitting ---------------------------------------------------------------------------------------

    def _new_run(self, job: JobDefinition, params: dict[str, Any], queue: str | None, priority: int | None,
                 key: str | None = None, **extra: Any) -> q.NewRun:
        resolved = resolve_params(job, params, extra.pop("partition", None))
        if queue is not None and not re.match(NAME_PATTERN, queue):
            raise UsageError(f"queue {queue!r}: expected letters, digits, '.', '_' or '-' (at most 128)")
        return q.NewRun(
            job=job.name, queue=queue or job.queue, priority=job.priority if priority is None else priority,
            params=resolved, partition=partition_of(job, resolved), definition=job.model_dump(mode="json"),
            idempotency_key=key, **extra,
        )

    async def submit(self, job_name: str, params: dict[str, Any], queue: str | None = None,
                     priority: int | None = None, key: str | None = None) -> tuple[int, bool]:
        """(run id, created); an existing run is returned for a repeated idempotency key."""
        new = self._new_run(self.job(job_name), params, queue, priority, key)
        async with self.db.write() as conn:
            if key is not None:
                existing = await q.find_run_by_key(conn, key)
                if existing is not None:
                    return existing, False
            await q.ensure_queue(conn, new.queue)
            [run_id] = await q.insert_runs(conn, [new], self.now(), self.actor)
        return run_id, True

    async def submit_many(self, job_name: str, params_list: Sequence[dict[str, Any]], queue: str | None = None,
                          priority: int | None = None) -> list[int]:
        """One run per params object, all in one transaction."""
        job = self.job(job_name)
        new_runs = []
        for line, params in enumerate(params_list, start=1):
            try:
                new_runs.append(self._new_run(job, params, queue, priority))
            except UsageError as exc:
                raise UsageError(f"line {line}: {exc}") from None
        async with self.db.write() as conn:
            for name in {new.queue for new in new_runs}:
                await q.ensure_queue(conn, name)
            return await q.insert_runs(conn, new_runs, self.now(), self.actor)

    async def trigger_now(self, job_name: str) -> int:
        """One run of a scheduled job now, outside its schedule (which keeps its own ticks); a time-partitioned
        job's run fills the current period in the job's zone, as that period's tick would."""
        job = self.job(job_name)
        if not job.schedule:
            raise UsageError(f"job {job_name} has no schedule: submit a run of it instead")
        new = self._new_run(job, {}, None, None, partition=trigger_partition(job, self.clock()), note=TRIGGER_NOTE)
        async with self.db.write() as conn:
            await q.ensure_queue(conn, new.queue)
            [run_id] = await q.insert_runs(conn, [new], self.now(), self.actor)
        return run_id

    # --- operator actions ---------------------------------------------------------------------------------

    async def cancel(self, run_ids: Sequence[int], reason: str | None = None, kill: bool = True) -> list[ActionResult]:
        """Cancel queued runs at once; running ones are killed by the scheduler (TERM, grace, KILL)."""
        async with self.db.write() as conn:
            now = self.now()
            return [await cancel_one(conn, run_id, now, self.actor, reason, kill) for run_id in run_ids]

    async def retry(self, run_ids: Sequence[int], from_scratch: bool = False, reason: str | None = None,
                    rerun_succeeded: bool = True) -> list[ActionResult]:
        """Queue a new attempt of ended runs, from their latest checkpoint unless from_scratch; succeeded ones
        only when rerun_succeeded (their result says so)."""
        async with self.db.write() as conn:
            if not rerun_succeeded:
                # All or nothing, as `sluice retry` without --force: one succeeded run among many refuses them all.
                runs = [await q.get_run(conn, run_id) for run_id in run_ids]
                done = [run.id for run in runs if run is not None and run.status == RunStatus.SUCCEEDED]
                if done:
                    raise UsageError(f"run {', '.join(map(str, done))} already succeeded: nothing was retried "
                                     "(run succeeded runs again on purpose: sluice retry --force, R in the console)")
            now = self.now()
            return [await retry_one(conn, run_id, now, self.actor, from_scratch, reason, rerun_succeeded)
                    for run_id in run_ids]

    async def set_priority(self, run_id: int, priority: int) -> None:
        async with self.db.write() as conn:
            run = await q.get_run(conn, run_id)
            if run is None:
                raise NotFound(f"run {run_id} does not exist")
            now = self.now()
            await q.update_run_fields(conn, run_id, now, priority=priority)
            await q.insert_event(conn, now, EventKind.PRIORITY, run_id=run_id, actor=self.actor,
                                 detail=f"{run.priority} -> {priority}")

    async def set_drained(self, node: str, drained: bool, reason: str | None = None,
                          deadline: float | None = None) -> None:
        """Drain: no new runs go to the node; with a deadline (seconds), runs still there then are preempted.
        Undrain also lifts a quarantine."""
        if node not in {config.name for config in self.node_configs()}:
            raise NotFound(f"node {node!r} is not in {self.home.nodes_file}")
        async with self.db.write() as conn:
            now = self.now()
            until = to_iso(self.clock() + timedelta(seconds=deadline)) if drained and deadline is not None else None
            await q.set_node_drained(conn, node, drained, reason if drained else None, until, now)
            detail = f"node {node}" + (f", running jobs preempted at {until}" if until else "")
            reason = reason if drained else None
            await q.insert_event(conn, now, EventKind.DRAIN if drained else EventKind.UNDRAIN, actor=self.actor,
                                 detail=because(detail, reason), reason=reason)
            if not drained and await q.lift_quarantine(conn, node, now):
                await q.insert_event(conn, now, EventKind.NODE_UNQUARANTINED, actor=self.actor,
                                     detail=f"node {node} undrained: its quarantine is lifted, it takes new work again")

    async def set_queue_paused(self, queue: str, paused: bool, reason: str | None = None) -> None:
        async with self.db.write() as conn:
            if not await q.set_queue_paused(conn, queue, paused):
                known = ", ".join(row["name"] for row in await q.queues(conn)) or "none"
                raise NotFound(f"queue {queue!r} does not exist (queues: {known})")
            await q.insert_event(conn, self.now(), EventKind.PAUSE if paused else EventKind.RESUME, actor=self.actor,
                                 detail=because(f"queue {queue}", reason), reason=reason)

    # --- queries ------------------------------------------------------------------------------------------

    async def _read(self, query: Callable[..., Awaitable[T]], *args: Any) -> T:
        """One query in a read transaction: never a row another task of this process has not committed yet."""
        async with self.db.read() as conn:
            return await query(conn, *args)

    async def runs(self, run_filter: RunFilter = RunFilter(), limit: int = 50, before_id: int | None = None,
                   after_id: int | None = None) -> list[Run]:
        return await self._read(q.list_runs, run_filter, limit, before_id, after_id)

    async def runs_page(self, run_filter: RunFilter, limit: int, order: RunOrder, after: Run | None = None,
                        backwards: bool = False, inclusive: bool = False) -> list[Run]:
        """One keyset page of runs in an indexed `order`, from the run `after` (or an end), in display order."""
        return await self._read(q.list_runs_ordered, run_filter, limit, order, after, backwards, inclusive)

    async def count_runs(self, run_filter: RunFilter = RunFilter(), cap: int | None = None) -> int:
        return await self._read(q.count_runs, run_filter, cap)

    async def run(self, run_id: int) -> Run:
        run = await self._read(q.get_run, run_id)
        if run is None:
            raise NotFound(f"run {run_id} does not exist")
        return run

    async def run_detail(self, run_id: int) -> RunDetail:
        async with self.db.read() as conn:
            run = await q.get_run(conn, run_id)
            if run is None:
                raise NotFound(f"run {run_id} does not exist")
            node = await q.node_state(conn, run.node) if run.status == RunStatus.RUNNING and run.node else None
            events = await q.events_for_run(conn, run_id)
            # All of the run's activity (as `sluice activity` reads it), not only what the capped events hold.
            activity = activity_of(await q.activity_events(conn, run_id, [kind.value for kind in ATTEMPT_ACTIVITY], None))
            return RunDetail(run, await q.attempts_for_run(conn, run_id), events,
                             await q.checkpoints_for_run(conn, run_id),
                             (node.probe_error or node.last_error) if node else None, activity)

    async def activity(self, run_id: int, attempt: int | None = None) -> list[ActivityEntry]:
        """Every launch try, failing probe, signal, fence and end of the run's attempts (or one), oldest first."""
        async with self.db.read() as conn:
            if await q.get_run(conn, run_id) is None:
                raise NotFound(f"run {run_id} does not exist")
            kinds = [kind.value for kind in ATTEMPT_ACTIVITY]
            return activity_of(await q.activity_events(conn, run_id, kinds, attempt))

    async def last_attempts(self, run_ids: Sequence[int]) -> dict[int, Attempt]:
        return await self._read(q.last_attempts, run_ids)

    async def attempt(self, run_id: int, number: int | None = None) -> Attempt | None:
        run = await self.run(run_id)
        return await self._read(q.attempt_of_run, run_id, number or run.attempt)

    async def events(self, limit: int = 200, before_id: int | None = None, kind: str | None = None,
                     actor: str | None = None, words: Sequence[str] = ()) -> list[Event]:
        """Newest first; `words` must each appear in an event's kind, run id, actor or detail."""
        return await self._read(q.recent_events, limit, before_id, kind, actor, words)

    async def events_after(self, after_id: int, limit: int = 500) -> list[Event]:
        """Events newer than `after_id`, oldest first (to follow the log as it grows)."""
        return await self._read(q.events_after, after_id, limit)

    async def status_counts(self) -> dict[str, int]:
        return await self._read(q.status_counts)

    async def queues(self) -> list[QueueState]:
        counts: dict[str, dict[str, int]] = {}
        async with self.db.read() as conn:
            for row in await q.queue_status_counts(conn):
                counts.setdefault(row["queue"], {})[row["status"]] = row["n"]
            rows = await q.queues(conn)
        return [QueueState(row["name"], row["priority"], row["max_running"], bool(row["paused"]),
                           counts.get(row["name"], {})) for row in rows]

    async def nodes(self) -> list[NodeView]:
        configs = self.node_configs()
        async with self.db.read() as conn:
            states = {state.name: state for state in await q.node_states(conn)}
            running: dict[str, list[int]] = {}
            for attempt in await q.active_attempts(conn):
                running.setdefault(attempt.node, []).append(attempt.run_id)
        return [NodeView(config, states.get(config.name), len(running.get(config.name, [])),
                         running.get(config.name, [])) for config in configs]

    async def run_board(self, limit: int = 30) -> RunBoard:
        """Up to `limit` runs of each kind: one index range per status, the same cost at any size of history.

        "Latest ended" is the newest `limit` of each ended status by id, ordered by when they ended."""
        async with self.db.read() as conn:
            running = await q.runs_in_status(conn, RunStatus.RUNNING, limit)
            waiting = [run for status in ordered(WAITING)
                       for run in await q.runs_in_status(conn, status, limit, oldest_first=True)]
            ended = [run for status in ordered(ENDED) for run in await q.runs_in_status(conn, status, limit)]
        ended = sorted(ended, key=lambda run: (run.ended_at or "", run.id), reverse=True)[:limit]
        ended.sort(key=lambda run: run.status not in DEAD_LETTERS)  # stable: failures first, each newest first
        return RunBoard(running, sorted(waiting, key=lambda run: run.id)[:limit], ended)

    async def wait_reasons(self, runs: Sequence[Run]) -> dict[int, str]:
        """Why each queued or backing-off run is not running, or a running one's node does not answer, in plain
        words."""
        reasons: dict[int, str] = {}
        queued = [run for run in runs if run.status == RunStatus.QUEUED]
        running = [run for run in runs if run.status == RunStatus.RUNNING and run.node]
        for run in runs:
            if run.status == RunStatus.RETRY_WAIT:
                due = from_iso(run.next_attempt_at)
                reasons[run.id] = f"backing off until {self.show_time(due)}" if due else "backing off"
        if not queued and not running:
            return reasons
        async with self.db.read() as conn:
            node_states = await q.node_states(conn)
            reasons.update(await self._unreachable_reasons(conn, running, node_states))
            if not queued:
                return reasons
            states = {s.name: (s.state, s.last_error) for s in node_states}
            context = await load_context(conn, self.node_configs(), store_health(states))
            await fill_upstream_blocks(conn, context, queued)
        idle = "ready: waiting for the scheduler to dispatch it" if self.scheduler_running() else \
            "ready, but no scheduler is running for this home (start one: sluice scheduler)"
        for run in queued:
            blocker = context.blocker(run)
            if blocker is None:
                _, blocker = context.place(run)
            reasons[run.id] = blocker or idle
        return reasons

    async def _unreachable_reasons(self, conn: Any, running: Sequence[Run],
                                   node_states: Sequence[NodeRecord]) -> dict[int, str]:
        """Running runs whose node the scheduler last saw unreachable: since when, and when they are given up."""
        down = {s.name: s.down_since for s in node_states if s.state in UNREACHABLE and s.down_since}
        affected = [run for run in running if run.node in down]
        if not affected:
            return {}
        attempts = await q.last_attempts(conn, [run.id for run in affected])
        node_leases = {config.name: config.lost_after for config in self.node_configs()}
        reasons = {}
        for run in affected:
            attempt = attempts.get(run.id)
            if attempt is None or attempt.node != run.node:
                continue
            lease = attempt.lost_after  # as the scheduler counts it; else as it would, with the default
            if lease is None:
                lease = lease_of(run.definition, node_leases.get(attempt.node), DEFAULT_LOST_AFTER)
            reasons[run.id] = unreachable_reason(attempt.node, down[attempt.node], lease, self.show_time)
        return reasons

    # --- backfills -----------------------------------------------------------------------------------------

    async def plan_backfill(self, job: str, *, range_from: str | None = None, range_to: str | None = None,
                            values: list[str] | None = None, params: dict[str, Any] | None = None,
                            max_parallel: int | None = None, order: str = "oldest-first", canary: int | None = None,
                            rerun_succeeded: bool = False, queue: str | None = None,
                            priority: int | None = None) -> bf.BackfillPlan:
        """What a backfill would create and skip; creates nothing."""
        definition = self.job(job)
        async with self.db.read() as conn:
            return await bf.plan(conn, definition, range_from=range_from, range_to=range_to, values=values,
                                 params=params or {}, max_parallel=max_parallel, order=order, canary=canary,
                                 rerun_succeeded=rerun_succeeded, queue=queue, priority=priority)

    async def create_backfill(self, plan: bf.BackfillPlan, rerun_succeeded: bool = False) -> tuple[int, list[int]]:
        """Re-plan inside one write transaction (so nothing changed since the dry run slips in) and create it."""
        definition = self.job(plan.job)
        async with self.db.write() as conn:
            fresh = await bf.plan(conn, definition, range_from=plan.range_from, range_to=plan.range_to,
                                  values=plan.values, params=plan.params, max_parallel=plan.max_parallel, order=plan.order,
                                  canary=plan.canary, rerun_succeeded=rerun_succeeded, queue=plan.queue,
                                  priority=plan.priority)
            if not fresh.partitions:
                return 0, []
            return await bf.create(conn, definition, fresh, self.now(), self.actor)

    async def backfills(self, limit: int = 200) -> list[Backfill]:
        return await self._read(q.list_backfills, limit)

    async def backfill_counts(self, backfill_id: int) -> dict[str, int]:
        return await self._read(q.backfill_status_counts, backfill_id)

    async def backfill_detail(self, backfill_id: int) -> bf.BackfillDetail:
        async with self.db.read() as conn:
            backfill = await bf.require(conn, backfill_id)
            counts = await q.backfill_status_counts(conn, backfill_id)
            runs = await q.backfill_runs(conn, backfill_id)
        reasons = await self.wait_reasons(runs)
        return bf.BackfillDetail(backfill, counts, runs, reasons)

    async def _backfill_action(self, backfill_id: int, kind: EventKind, detail: str, reason: str | None = None,
                               status: BackfillStatus | None = None, **fields: Any) -> Backfill:
        async with self.db.write() as conn:
            backfill = await bf.require(conn, backfill_id)
            if backfill.status in BACKFILL_ENDED:
                raise UsageError(f"backfill {backfill_id} is {backfill.status}; it can no longer be changed")
            now = self.now()
            await _set_backfill(conn, backfill, status, now, **fields)
            await q.insert_event(conn, now, kind, actor=self.actor, detail=because(f"backfill {backfill_id}: {detail}",
                                                                               reason), reason=reason)
            return backfill

    async def pause_backfill(self, backfill_id: int, reason: str | None = None) -> None:
        await self._backfill_action(backfill_id, EventKind.BACKFILL_PAUSED, "paused", reason,
                                    status=BackfillStatus.PAUSED)

    async def resume_backfill(self, backfill_id: int) -> None:
        """Resume a paused backfill; this also releases a canary hold."""
        await self._backfill_action(backfill_id, EventKind.BACKFILL_RESUMED, "resumed (canary released)",
                                    status=BackfillStatus.ACTIVE, canary_released=1)

    async def set_backfill_max_parallel(self, backfill_id: int, max_parallel: int) -> None:
        if max_parallel < 1:
            raise UsageError("--max-parallel must be at least 1")
        await self._backfill_action(backfill_id, EventKind.BACKFILL_THROTTLED, f"max-parallel {max_parallel}",
                                    max_parallel=max_parallel)

    async def cancel_backfill(self, backfill_id: int, kill: bool = False, reason: str | None = None) -> list[ActionResult]:
        """Cancel its queued runs (running ones finish unless kill), in one transaction with the backfill's status."""
        async with self.db.write() as conn:
            backfill = await bf.require(conn, backfill_id)
            if backfill.status in BACKFILL_ENDED:
                raise UsageError(f"backfill {backfill_id} is {backfill.status}; it can no longer be changed")
            now = self.now()
            await q.transition_backfill(conn, backfill_id, BackfillStatus.CANCELLED, now)
            await q.insert_event(conn, now, EventKind.BACKFILL_CANCELLED, actor=self.actor, reason=reason,
                                 detail=f"backfill {backfill_id}: " + ("kill running; " if kill else "")
                                 + (reason or "no reason given"))
            runs = await q.backfill_runs(conn, backfill_id)
            targets = [run.id for run in runs
                       if run.status in WAITING or (kill and run.status == RunStatus.RUNNING)]
            why = reason or f"backfill {backfill_id} cancelled"
            return [await cancel_one(conn, run_id, now, self.actor, reason, kill, why) for run_id in targets]

    async def retry_failed_backfill(self, backfill_id: int, reason: str | None = None) -> list[ActionResult]:
        """Queue every ended, unsuccessful partition again and reactivate the backfill: one transaction."""
        async with self.db.write() as conn:
            backfill = await bf.require(conn, backfill_id)
            runs = await q.backfill_runs(conn, backfill_id)
            failed = [run.id for run in runs if run.status in UNSUCCESSFUL]
            now = self.now()
            await _set_backfill(conn, backfill, BackfillStatus.ACTIVE, now)
            await q.insert_event(conn, now, EventKind.BACKFILL_RETRY_FAILED, actor=self.actor, reason=reason,
                                 detail=because(f"backfill {backfill_id}: {len(failed)} runs retried", reason))
            return [await retry_one(conn, run_id, now, self.actor, False, reason) for run_id in failed]

    # --- logs ---------------------------------------------------------------------------------------------

    def read_log(self, run_id: int, attempt: int, stream: str, offset: int = 0, size: int = -1) -> bytes:
        return self.logs.read(run_id, attempt, stream, offset, size)

    def log_size(self, run_id: int, attempt: int, stream: str) -> int:
        return self.logs.size(run_id, attempt, stream)

    def log_tail(self, run_id: int, attempt: int, stream: str, lines: int) -> bytes:
        return self.logs.tail(run_id, attempt, stream, lines, self.logs.size(run_id, attempt, stream))

    def log_arrivals(self, run_id: int, attempt: int, stream: str, start: int = 0) -> tuple[list[Arrival], int]:
        return self.logs.arrivals(run_id, attempt, stream, start)

    # --- scheduler presence -------------------------------------------------------------------------------

    def scheduler_running(self) -> bool:
        """True when some process holds this home's scheduler lock."""
        try:
            fd = os.open(self.home.lock_path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False


async def _set_backfill(conn: Any, backfill: Backfill, status: BackfillStatus | None, now: str,
                        **fields: Any) -> None:
    """An operator's change of a backfill: a guarded transition when its status changes, else only its fields
    (resuming an active backfill releases its canary; pausing a paused one changes nothing but the time)."""
    if status is not None and status != backfill.status:
        await q.transition_backfill(conn, backfill.id, status, now, **fields)
    else:
        await q.update_backfill(conn, backfill.id, now, **fields)
