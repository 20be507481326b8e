"""The SQLite store on a real file: migrations, refusal of newer stores, privacy, WAL, submits under contention."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import sqlite3
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from harness import SluiceHome

from scheduler.engine import Engine
from scheduler.errors import SluiceError, StoreTooNew, UsageError
from scheduler.home import Home, private_dir, write_private
from scheduler.store import open_database
from scheduler.store.db import latest_version, migration_scripts

TABLES = {"meta", "queues", "nodes", "backfills", "runs", "attempts", "checkpoints", "events", "schedules"}
JOB_TOML = 'name = "load"\ncommand = "echo {n}"\n[params]\nn = "0"\n'


def _home(root: Path) -> Home:
    home = Home(root / "home")
    home.ensure()
    private_dir(home.jobs_dir)
    write_private(home.jobs_dir / "load.toml", JOB_TOML)
    return home


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with await Engine.open(_home(tmp_path)) as opened:
        yield opened


@pytest.fixture
def umask() -> Iterator[None]:
    """The loosest umask there is, so only Sluice's own modes can keep the files private."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def _schema(path: Path) -> list[tuple[str, str, str, str | None]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()
    conn.close()
    return rows


def _user_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.close()
    return int(version)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def _counts(engine: Engine) -> tuple[int, int]:
    runs = await engine.db.fetchone("SELECT count(*) FROM runs")
    events = await engine.db.fetchone("SELECT count(*) FROM events")
    assert runs is not None and events is not None
    return runs[0], events[0]


# --- migrations --------------------------------------------------------------------------------------------

async def test_fresh_file_is_migrated_to_the_latest_version_with_every_table(tmp_path: Path) -> None:
    path = tmp_path / "sluice.db"
    db = await open_database(path)
    await db.close()
    assert _user_version(path) == latest_version() == migration_scripts()[-1][0]
    tables = {name for kind, name, _, _ in _schema(path) if kind == "table"}
    assert tables == TABLES


async def test_migrations_give_the_same_schema_as_running_the_scripts_whole(tmp_path: Path) -> None:
    """Our statement splitter must not drop or mangle any statement of any migration."""
    migrated = tmp_path / "migrated.db"
    db = await open_database(migrated)
    await db.close()
    reference = tmp_path / "reference.db"
    with sqlite3.connect(reference) as conn:
        for _, script in migration_scripts():
            conn.executescript(script)
    conn.close()
    assert _schema(migrated) == _schema(reference)


def test_migration_versions_are_numbered_one_by_one() -> None:
    versions = [version for version, _ in migration_scripts()]
    assert versions == list(range(1, len(versions) + 1))


async def test_reopening_an_up_to_date_store_changes_nothing(tmp_path: Path) -> None:
    home = _home(tmp_path)
    async with await Engine.open(home) as engine:
        run_id, _ = await engine.submit("load", {"n": "1"})
    schema, digest = _schema(home.db_path), _digest(home.db_path)
    async with await Engine.open(home) as engine:
        assert (await engine.run(run_id)).params == {"n": "1"}
    assert _schema(home.db_path) == schema
    assert _user_version(home.db_path) == latest_version()
    assert _digest(home.db_path) == digest


async def test_two_processes_opening_a_fresh_store_at_once_both_succeed(tmp_path: Path) -> None:
    home = _home(tmp_path)
    first, second = await asyncio.gather(Engine.open(home), Engine.open(home))
    try:
        run_id, _ = await first.submit("load", {})
        assert (await second.run(run_id)).job == "load"
    finally:
        await first.close()
        await second.close()
    assert _user_version(home.db_path) == latest_version()


@pytest.mark.parametrize("journal_mode", [
    "wal",
    "delete",
])
async def test_a_store_newer_than_the_code_is_refused_and_left_untouched(tmp_path: Path, journal_mode: str) -> None:
    path = tmp_path / "sluice.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA journal_mode = {journal_mode}")
        conn.execute("CREATE TABLE from_the_future (x)")
        conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    conn.close()
    before = _digest(path)
    with pytest.raises(StoreTooNew) as refused:
        await open_database(path)
    message = str(refused.value)
    assert str(path) in message and f"version {latest_version() + 1}" in message
    assert _user_version(path) == latest_version() + 1
    assert _digest(path) == before


async def test_a_file_that_is_not_a_store_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "sluice.db"
    path.write_bytes(b"these bytes are not an SQLite database, whatever the name says\n" * 64)
    before = _digest(path)
    with pytest.raises(SluiceError, match=re.escape(str(path))):
        await open_database(path)
    assert _digest(path) == before


async def test_the_cli_refuses_a_newer_store_without_a_traceback(tmp_path: Path) -> None:
    sluice = SluiceHome(tmp_path, "")
    async with await sluice.engine() as engine, engine.db.write() as conn:
        await conn.execute(f"PRAGMA user_version = {latest_version() + 5}")
    result = await sluice.cli("runs")
    assert result.code == 1
    assert str(sluice.home.db_path) in result.stderr and "Traceback" not in result.stderr


# --- the file on disk --------------------------------------------------------------------------------------

@pytest.mark.usefixtures("umask")
async def test_home_database_wal_and_shm_are_private(tmp_path: Path) -> None:
    home = Home(tmp_path / "fresh" / "home")
    async with await Engine.open(home) as engine:
        private_dir(home.jobs_dir)
        write_private(home.jobs_dir / "load.toml", JOB_TOML)
        await engine.submit("load", {})
        wal, shm = Path(f"{home.db_path}-wal"), Path(f"{home.db_path}-shm")
        assert wal.exists() and shm.exists()
        modes = {path.name: _mode(path) for path in (home.db_path, wal, shm)}
        assert modes == {"sluice.db": 0o600, "sluice.db-wal": 0o600, "sluice.db-shm": 0o600}
    assert _mode(home.root) == 0o700
    assert _mode(home.logs_dir) == 0o700


async def test_an_existing_open_home_is_made_private(tmp_path: Path) -> None:
    root = tmp_path / "home"
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)
    async with await Engine.open(Home(root)):
        pass
    assert _mode(root) == 0o700


async def test_the_store_runs_in_wal_mode(engine: Engine) -> None:
    row = await engine.db.fetchone("PRAGMA journal_mode")
    assert row is not None and row[0] == "wal"
    with sqlite3.connect(engine.home.db_path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    other.close()


# --- submitting --------------------------------------------------------------------------------------------

async def test_a_repeated_idempotency_key_returns_the_first_run(engine: Engine) -> None:
    first, created = await engine.submit("load", {"n": "1"}, key="nightly-2026-01-01")
    again, created_again = await engine.submit("load", {"n": "2"}, key="nightly-2026-01-01")
    assert (created, created_again) == (True, False)
    assert again == first
    assert (await engine.run(first)).params == {"n": "1"}
    assert await _counts(engine) == (1, 1)
    other, _ = await engine.submit("load", {}, key="nightly-2026-01-02")
    assert other != first


async def test_a_key_submitted_by_two_processes_at_once_makes_one_run(tmp_path: Path) -> None:
    home = _home(tmp_path)
    async with await Engine.open(home) as first, await Engine.open(home) as second:
        results = await asyncio.gather(*[
            engine.submit("load", {}, key=f"key-{n}") for n in range(20) for engine in (first, second)
        ])
        assert await _counts(first) == (20, 20)
    by_key: dict[int, set[int]] = {}
    for index, (run_id, _) in enumerate(results):
        by_key.setdefault(index // 2, set()).add(run_id)
    assert all(len(ids) == 1 for ids in by_key.values())
    assert sorted(created for _, created in results) == [False] * 20 + [True] * 20


async def test_submit_many_with_a_bad_line_creates_nothing_and_names_the_line(engine: Engine) -> None:
    await engine.submit("load", {})
    before = await _counts(engine)
    with pytest.raises(UsageError, match=r"^line 3: .*unknown param nope") as refused:
        await engine.submit_many("load", [{"n": "1"}, {"n": "2"}, {"nope": "3"}, {"n": "4"}])
    assert "its params: n" in str(refused.value)
    with pytest.raises(UsageError, match=r"^line 2: .*param n must be a string or number"):
        await engine.submit_many("load", [{"n": "1"}, {"n": ["a", "list"]}])
    assert await _counts(engine) == before


async def test_submit_many_creates_every_run_in_order(engine: Engine) -> None:
    run_ids = await engine.submit_many("load", [{"n": str(n)} for n in range(50)])
    assert run_ids == sorted(run_ids) and len(set(run_ids)) == 50
    runs = await engine.runs(limit=100)
    assert {run.id: run.params["n"] for run in runs} == {run_id: str(n) for n, run_id in enumerate(run_ids)}


async def test_two_writers_on_one_file_lose_nothing(tmp_path: Path) -> None:
    home = _home(tmp_path)
    async with await Engine.open(home) as first, await Engine.open(home) as second:
        singles = [engine.submit("load", {"n": f"{name}-{n}"})
                   for n in range(60) for name, engine in (("a", first), ("b", second))]
        batches = [engine.submit_many("load", [{"n": f"{name}-batch-{n}-{i}"} for i in range(25)])
                   for n in range(4) for name, engine in (("a", first), ("b", second))]
        results = await asyncio.gather(*singles, *batches)
        single_ids = [run_id for run_id, _ in results[:len(singles)]]
        batch_ids = [run_id for batch in results[len(singles):] for run_id in batch]
        assert len(set(single_ids + batch_ids)) == 120 + 200
        assert await _counts(first) == await _counts(second) == (320, 320)
        written = {run.params["n"] for run in await second.runs(limit=1000)}
    assert {f"{name}-{n}" for n in range(60) for name in "ab"} <= written
    assert len(written) == 320
