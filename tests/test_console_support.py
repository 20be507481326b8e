"""Shared fixtures and store helpers for the console tests (test data setup only: the console itself
only ever calls Engine methods)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.worker import WorkerState

from console.tui.app import SluiceApp, create_app
from scheduler.engine import Engine
from scheduler.home import Home
from scheduler.models import to_iso
from scheduler.states import AttemptStatus, RunStatus
from scheduler.store import queries as q

NOW = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
SIZE = (100, 30)
BUSY = (WorkerState.PENDING, WorkerState.RUNNING)
RUNS = 1_000_000

JOBS = {
    "hello": 'command = "echo hello"\nqueue = "default"\n[retry]\nmax_attempts = 3\n',
    "etl": ('command = "etl --day {day}"\nqueue = "batch"\n[partition]\nparam = "day"\nkind = "daily"\n'),
}
NODES = '[[node]]\nname = "n1"\nhost = "127.0.0.1"\nslots = 4\n\n[[node]]\nname = "n2"\nhost = "127.0.0.2"\nslots = 2\n'


def fixed_clock() -> datetime:
    return NOW


def at(minutes: float) -> str:
    """A stored time `minutes` before NOW."""
    return to_iso(NOW - timedelta(minutes=minutes))


def make_home(root: Path) -> Home:
    home = Home(root)
    (root / "jobs").mkdir(parents=True)
    for name, text in JOBS.items():
        (root / "jobs" / f"{name}.toml").write_text(text)
    (root / "nodes.toml").write_text(NODES)
    return home


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return make_home(tmp_path / "home")


@pytest.fixture
async def engine(home: Home):
    engine = await Engine.open(home, clock=fixed_clock)
    yield engine
    await engine.close()


def app_for(engine: Engine, readonly: bool = False, poll_interval: float = 0.5) -> SluiceApp:
    async def factory(home: Home) -> Engine:
        return engine

    return create_app(engine.home, readonly=readonly, engine_factory=factory, poll_interval=poll_interval)


async def start(engine: Engine, run_id: int, node: str = "n1", minutes_ago: float = 30) -> int:
    """Move a queued run to running with a new attempt; returns the attempt's id."""
    run = await engine.run(run_id)
    number = run.attempt + 1
    async with engine.db.write() as conn:
        await q.transition_run(conn, run_id, RunStatus.RUNNING, at(minutes_ago), kind="dispatch", actor="scheduler",
                               attempt=number, node=node, started_at=at(minutes_ago))
        # attempts_used counts an attempt when it ends (as the scheduler does), not at dispatch.
        await q.update_run_fields(conn, run_id, at(minutes_ago), attempt=number)
        attempt_id = await q.insert_attempt(conn, run_id, number, node, f"/tmp/r{run_id}", None, at(minutes_ago))
        await q.transition_attempt(conn, attempt_id, AttemptStatus.RUNNING, pid=1000 + run_id)
    return attempt_id


async def finish(engine: Engine, run_id: int, attempt_id: int, status: RunStatus, exit_code: int,
                 minutes_ago: float = 10, reason: str = "exit", error: str | None = None) -> None:
    """End a running run's attempt with `status` (the run's and attempt's), using one attempt of its budget."""
    run = await engine.run(run_id)
    async with engine.db.write() as conn:
        await q.transition_attempt(conn, attempt_id, AttemptStatus(status), reason=reason, exit_code=exit_code,
                                   ended_at=at(minutes_ago), error=error)
        await q.transition_run(conn, run_id, status, at(minutes_ago), kind="ended", actor="scheduler",
                               exit_code=exit_code, ended_at=at(minutes_ago), attempts_used=run.attempts_used + 1)


async def progress(engine: Engine, attempt_id: int, done: float, total: float, message: str) -> None:
    async with engine.db.write() as conn:
        await q.update_attempt(conn, attempt_id, progress_done=done, progress_total=total, progress_message=message)


async def checkpoint(engine: Engine, run_id: int, attempt: int, value: str, offset: int, minutes_ago: float) -> None:
    async with engine.db.write() as conn:
        await q.insert_checkpoint(conn, run_id, attempt, at(minutes_ago), value, offset)


async def failed_run(engine: Engine, stderr: bytes = b"Traceback\nValueError: bad row 7\n") -> int:
    run_id, _ = await engine.submit("hello", {})
    attempt_id = await start(engine, run_id)
    engine.logs.append(run_id, 1, "stdout", 0, b"starting\nworking\n")
    engine.logs.append(run_id, 1, "stderr", 0, stderr)
    await finish(engine, run_id, attempt_id, RunStatus.FAILED, 1)
    return run_id


async def until(pilot, ready: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    """Pause until `ready()` holds (a poll came round), however slow the machine; fail naming what was awaited."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not ready():
        assert asyncio.get_running_loop().time() < deadline, f"{what}: not within {timeout:g}s"
        await pilot.pause(0.05)


async def settle(pilot, rounds: int = 2) -> None:
    """Let polls, workers and messages run to rest (polling keeps starting workers, so waits are capped)."""
    for _ in range(rounds):
        await pilot.pause(0.03)
        for _ in range(50):
            if not any(worker.state in BUSY for worker in pilot.app.workers):
                break
            await asyncio.sleep(0.01)
        await pilot.pause()


@pytest.fixture(scope="session")
def million_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store file holding a million ended runs, written once per session (test data setup only): generating
    it takes ~10 s, copying the file a fraction of that, so each test gets its own copy of the same rows."""
    home = make_home(tmp_path_factory.mktemp("million") / "home")

    async def migrate() -> None:
        await (await Engine.open(home, clock=fixed_clock)).close()

    asyncio.run(migrate())
    created = at(60)
    with sqlite3.connect(home.db_path) as conn:
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -262144")
        conn.execute("INSERT OR IGNORE INTO queues (name) VALUES ('default')")
        conn.execute(
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?)"
            " INSERT INTO runs (job, status, queue, priority, params, definition, created_at, updated_at)"
            " SELECT 'job' || (x % 7), CASE x % 5 WHEN 3 THEN 'failed' WHEN 4 THEN 'cancelled' ELSE 'succeeded' END,"
            " 'default', 0, '{}', '{}', ?, ? FROM n",
            (RUNS, created, created),
        )
    conn.close()
    with sqlite3.connect(home.db_path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every row in the main file: one file to copy
    conn.close()
    return home.db_path


@pytest.fixture
async def million(home: Home, million_store: Path):
    """An engine on a home whose store holds a million ended runs (a copy of the session's million_store)."""
    home.db_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copyfile(million_store, home.db_path)
    os.chmod(home.db_path, 0o600)
    engine = await Engine.open(home, clock=fixed_clock)
    yield engine
    await engine.close()
    home.db_path.unlink()  # a quarter gigabyte per copy: pytest keeps its last temp folders
