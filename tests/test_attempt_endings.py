"""How an attempt's ending moves its run, applied by the scheduler's own pass steps on a real store: a launch
that never left the bastion is no strike; launch failures and node losses in a row are capped."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from scheduler.engine import Engine
from scheduler.executor import LaunchFailed, TargetUnavailable
from scheduler.home import Home, private_dir, write_private
from scheduler.models import Attempt
from scheduler.outcomes import MAX_LAUNCH_FAILURES, MAX_NODE_LOSSES, AttemptEnd
from scheduler.process.attempts import apply_launch, end_attempt
from scheduler.process.context import PassContext
from scheduler.process.inbox import LaunchDone
from scheduler.process.memory import Effects, Memory
from scheduler.process.settings import SchedulerSettings
from scheduler.ssh.executor import SshExecutor
from scheduler.states import AttemptStatus, EndReason, RunStatus
from scheduler.store import queries as q


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    home = Home(tmp_path / "home")
    home.ensure()
    private_dir(home.jobs_dir)
    write_private(home.jobs_dir / "job.toml", 'name = "job"\ncommand = "true"\n[retry]\nmax_attempts = 2\n')
    async with await Engine.open(home, actor="tester") as opened:
        yield opened


async def _dispatched(engine: Engine, run_id: int) -> Attempt:
    """Commit the run's next attempt as `starting`, the way dispatch does."""
    async with engine.db.write() as conn:
        run = await q.get_run(conn, run_id)
        assert run is not None and run.status == RunStatus.QUEUED
        number = run.attempt + 1
        attempt_id = await q.insert_attempt(conn, run_id, number, "n1", f"/w/r{run_id}-a{number}", None,
                                            engine.now())
        await q.transition_run(conn, run_id, RunStatus.RUNNING, engine.now(), kind="dispatched", actor="test",
                               on_attempt=number, attempt=number, node="n1", started_at=engine.now())
        attempt = await q.get_attempt(conn, attempt_id)
    assert attempt is not None
    return attempt


async def _in_a_pass(engine: Engine, attempt: Attempt, step: object) -> None:
    memory = Memory(active={attempt.id: attempt}, launching={attempt.id})
    async with engine.db.write() as conn:
        p = PassContext(conn, memory, Effects(), engine.clock(), asyncio.get_running_loop().time(),
                        SchedulerSettings(), SshExecutor([]), random.Random(1), "home")
        await step(p)  # type: ignore[operator]
    assert attempt.id not in memory.active, "the attempt ended"


async def test_launches_that_never_left_the_bastion_requeue_without_a_strike(engine: Engine) -> None:
    run_id, _ = await engine.submit("job", {})
    for _ in range(MAX_LAUNCH_FAILURES * 2):
        attempt = await _dispatched(engine, run_id)
        unsent = TargetUnavailable("n1", "node n1: connection refused", sent=False)
        await _in_a_pass(engine, attempt, lambda p, a=attempt, e=unsent: apply_launch(p, LaunchDone(a.id, error=e)))
        run = await engine.run(run_id)
        assert run.status == RunStatus.QUEUED and run.attempts_used == 0
    detail = await engine.run_detail(run_id)
    assert {a.reason for a in detail.attempts} == {EndReason.NOT_SENT.value}


async def test_launch_failures_in_a_row_fail_the_run_loudly(engine: Engine) -> None:
    run_id, _ = await engine.submit("job", {})
    for number in range(1, MAX_LAUNCH_FAILURES + 1):
        attempt = await _dispatched(engine, run_id)
        failed = LaunchFailed("launch on n1 failed (exit 1): mkdir: Permission denied")
        await _in_a_pass(engine, attempt, lambda p, a=attempt, e=failed: apply_launch(p, LaunchDone(a.id, error=e)))
        run = await engine.run(run_id)
        if number < MAX_LAUNCH_FAILURES:
            assert run.status == RunStatus.RETRY_WAIT
            async with engine.db.write() as conn:  # skip the short delay
                await q.transition_run(conn, run_id, RunStatus.QUEUED, engine.now(), kind="retry_due",
                                       actor="test", next_attempt_at=None)
    assert run.status == RunStatus.FAILED


async def test_node_losses_in_a_row_are_capped_so_a_job_cannot_walk_the_fleet(engine: Engine) -> None:
    run_id, _ = await engine.submit("job", {})
    endings = [EndReason.NODE_LOST, EndReason.VANISHED, EndReason.NODE_LOST]
    for number, reason in enumerate(endings, start=1):
        attempt = await _dispatched(engine, run_id)
        lost = AttemptEnd(AttemptStatus.LOST, reason, None, "node n1 did not answer")
        await _in_a_pass(engine, attempt, lambda p, a=attempt, e=lost: end_attempt(p, a, e))
        run = await engine.run(run_id)
        if number < MAX_NODE_LOSSES:
            assert run.status == RunStatus.QUEUED and run.attempts_used == 0
    assert run.status == RunStatus.FAILED
    events = (await engine.run_detail(run_id)).events
    assert "lost 3 times in a row" in (events[-1].detail or "")
