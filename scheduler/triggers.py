"""Work the scheduler creates by itself: runs due on a cron schedule, and backfills that have finished."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from .clock import Clock
from .config import JobDefinition, load_jobs
from .cron import due_ticks, validate_timezone
from .errors import SluiceError
from .home import Home
from .jobspec import partition_of, resolve_params
from .models import from_iso, to_iso
from .partitions import key_for_time
from .states import ENDED, BackfillStatus, EventKind
from .store import Database
from .store import queries as q

log = logging.getLogger("sluice.triggers")
ACTOR = "scheduler"
TRIGGER_INTERVAL = 1.0


class TriggerPass:
    def __init__(self, home: Home, db: Database, clock: Clock) -> None:
        self.home = home
        self.db = db
        self.clock = clock
        self._last = 0.0
        self._config_error: str | None = None

    async def run(self, force: bool = False) -> bool:
        """Create due scheduled runs and finish completed backfills (at most once a second unless forced);
        True when it changed the store."""
        loop_now = asyncio.get_running_loop().time()
        if not force and loop_now - self._last < TRIGGER_INTERVAL:
            return False
        self._last = loop_now
        try:
            jobs = load_jobs(self.home.jobs_dir)
        except SluiceError as exc:
            await self._report_config_error(str(exc))
            return False
        self._config_error = None
        now = self.clock()
        changed = False
        for job in jobs.values():
            if job.schedule:
                try:
                    changed |= await self._schedule(job, now)
                except SluiceError as exc:
                    await self._report_config_error(f"schedule of job {job.name}: {exc}")
        return await self._finish_backfills() or changed

    async def _report_config_error(self, message: str) -> None:
        if message == self._config_error:
            return
        self._config_error = message
        async with self.db.write() as conn:
            await q.insert_event(conn, to_iso(self.clock()), EventKind.CONFIG_ERROR, actor=ACTOR, detail=message)

    async def _schedule(self, job: JobDefinition, now: datetime) -> bool:
        """Create each due tick's run once: the tick is unique per job in the store, and recorded with it."""
        assert job.schedule is not None
        async with self.db.write() as conn:
            last = await q.schedule_last_tick(conn, job.name)
            ticks = due_ticks(job.schedule, job.timezone, from_iso(last), now, job.catchup)
            if not ticks:
                return False
            new_runs = []
            for tick in ticks:
                partition = key_for_time(job.partition.kind, tick.astimezone(validate_timezone(job.timezone))) \
                    if job.partition and job.partition.kind != "list" else None
                params = resolve_params(job, {}, partition)
                new_runs.append(q.NewRun(job=job.name, queue=job.queue, priority=job.priority, params=params,
                                         partition=partition_of(job, params), definition=job.model_dump(mode="json"),
                                         schedule_tick=to_iso(tick)))
            await q.ensure_queue(conn, job.queue)
            await q.insert_runs(conn, new_runs, to_iso(now), ACTOR)
            await q.set_schedule_last_tick(conn, job.name, to_iso(ticks[-1]))
        return True

    async def _finish_backfills(self) -> bool:
        finished = False
        async with self.db.write() as conn:
            for backfill in await q.active_backfills(conn):
                if backfill.status != BackfillStatus.ACTIVE:
                    continue
                counts = await q.backfill_status_counts(conn, backfill.id)
                if counts and all(status in ENDED for status in counts):
                    at = to_iso(self.clock())
                    await q.transition_backfill(conn, backfill.id, BackfillStatus.DONE, at)
                    await q.insert_event(conn, at, EventKind.BACKFILL_DONE, actor=ACTOR,
                                         detail=f"backfill {backfill.id}: " + ", ".join(
                                             f"{n} {status}" for status, n in sorted(counts.items())))
                    finished = True
        return finished
