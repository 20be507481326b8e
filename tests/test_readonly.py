"""Read-only views through the real CLI: a command that only reads opens the store read-only at the SQLite level,
so it creates, changes and chmods nothing, also for a user who may not write the home, with or without a live
writer; a store that needs a migration is refused, not migrated."""

from __future__ import annotations

import os
import pwd
import shutil
import sqlite3
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import SluiceHome
from test_console_support import JOBS, NODES, failed_run

from scheduler.engine import Engine
from scheduler.store.db import latest_version, migration_scripts

# The home's queues.toml says priority 5, but the store says 3: a command that synced it would write.
QUEUES = '[[queue]]\nname = "batch"\npriority = 5\n'
Snapshot = dict[str, tuple[int, int, int, bytes]]


def snapshot(root: Path) -> Snapshot:
    """Every entry under root: its mode, owner, mtime and bytes. A file created and removed again still changes
    its folder's mtime."""
    entries = {}
    for path in sorted([root, *root.rglob("*")]):
        info = path.lstat()
        content = path.read_bytes() if stat.S_ISREG(info.st_mode) else b""
        entries[str(path.relative_to(root))] = (info.st_mode, info.st_uid, info.st_mtime_ns, content)
    return entries


async def _populate(sluice: SluiceHome) -> tuple[int, int]:
    """A failed run with logs, a backfill and a cancel event; returns (the failed run, the backfill)."""
    for name, text in JOBS.items():
        sluice.add_job(name, text)
    async with await sluice.engine() as engine:
        failed = await failed_run(engine)
        plan = await engine.plan_backfill("etl", range_from="2026-11-01", range_to="2026-11-03")
        backfill_id, run_ids = await engine.create_backfill(plan)
        await engine.cancel(run_ids[:1], "not that day")
        async with engine.db.write() as conn:
            await conn.execute("UPDATE queues SET priority = 3 WHERE name = 'batch'")
    sluice.home.queues_file.write_text(QUEUES, encoding="utf-8")
    return failed, backfill_id


def _reads(failed: int, backfill_id: int) -> dict[tuple[str, ...], int]:
    """Every command that only reads, with the exit code it owes (`wait` on a failed run exits 1)."""
    run, backfill = str(failed), str(backfill_id)
    return {
        ("runs",): 0, ("runs", "--json"): 0, ("show", run): 0, ("show", run, "--json"): 0,
        ("logs", run): 0, ("logs", run, "--stderr"): 0, ("logs", run, "-f"): 0, ("wait", run): 1,
        ("events",): 0, ("events", "--json"): 0, ("nodes", "--json"): 0, ("queues", "--json"): 0,
        ("jobs", "--json"): 0, ("backfills", "--json"): 0, ("backfill-show", backfill, "--json"): 0,
        ("backfill", "etl", "--from", "2026-11-01", "--to", "2026-11-05", "--dry-run"): 0,
    }


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder another user can reach (pytest's tmp_path sits under a 0700 folder of ours)."""
    root = Path(tempfile.mkdtemp(prefix="sluice-readonly-"))
    os.chmod(root, 0o755)
    yield root
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            os.chmod(path, 0o700 if path.is_dir() else 0o600)
    shutil.rmtree(root)


def _other_user() -> list[str]:
    """The command prefix that runs the CLI as a user who cannot write a home: nobody when we are root (root
    ignores file modes), else ourselves."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: no unprivileged user to read as")
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("running as root without a 'nobody' user")
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def _share_read_only(root: Path) -> None:
    """Everyone may read and enter, nobody may write: the home of a colleague who lets us watch."""
    for path in [root, *root.rglob("*")]:
        os.chmod(path, 0o555 if path.is_dir() else 0o444)


async def test_every_read_only_command_leaves_the_home_exactly_as_it_was(tmp_path: Path) -> None:
    sluice = SluiceHome(tmp_path, NODES)
    failed, backfill_id = await _populate(sluice)
    before = snapshot(sluice.home.root)
    for args, code in _reads(failed, backfill_id).items():
        result = await sluice.cli(*args)
        assert result.code == code, f"{args}: exit {result.code}\n{result.stderr}"
        assert snapshot(sluice.home.root) == before, f"{args} changed the home"
    queues = {queue["name"]: queue for queue in (await sluice.cli_json("queues"))["queues"]}
    assert queues["batch"]["priority"] == 3, "queues.toml was synced by a read"


async def test_a_user_who_cannot_write_the_home_reads_it(open_dir: Path) -> None:
    sluice = SluiceHome(open_dir, NODES)
    failed, backfill_id = await _populate(sluice)
    _share_read_only(sluice.home.root)
    before = snapshot(sluice.home.root)
    reader = _other_user()
    # The same path as the commands above; a sample of them keeps this test short.
    sample = {"runs", "logs", "events", "queues", "backfill-show", "backfill"}
    for args, code in _reads(failed, backfill_id).items():
        if args[0] not in sample:
            continue
        result = await sluice.cli(*args, prefix=reader)
        assert result.code == code, f"{args}: exit {result.code}\n{result.stderr}"
        assert "Traceback" not in result.stderr, result.stderr
    shown = await sluice.cli("show", str(failed), "--json", prefix=reader)
    assert shown.json()["status"] == "failed"
    assert snapshot(sluice.home.root) == before


async def test_a_writing_command_in_a_home_it_cannot_write_fails_cleanly(open_dir: Path) -> None:
    sluice = SluiceHome(open_dir, NODES)
    failed, _ = await _populate(sluice)
    _share_read_only(sluice.home.root)
    before = snapshot(sluice.home.root)
    result = await sluice.cli("retry", str(failed), prefix=_other_user())
    assert result.code == 1, result.stderr
    assert "Traceback" not in result.stderr and str(sluice.home.root) in result.stderr
    assert "--readonly" in result.stderr or "read-only" in result.stderr
    assert snapshot(sluice.home.root) == before


async def test_a_user_who_cannot_write_the_home_reads_it_while_a_writer_is_live(open_dir: Path) -> None:
    sluice = SluiceHome(open_dir, NODES)
    for name, text in JOBS.items():
        sluice.add_job(name, text)
    async with await sluice.engine():
        pass  # the store exists; its owner now lets others read it, and the writer keeps that mode
    os.chmod(sluice.home.db_path, 0o644)
    async with await sluice.engine() as writer:
        run_id, _ = await writer.submit("hello", {})  # committed to the WAL, not yet in the main file
        wal, shm = (Path(f"{sluice.home.db_path}{suffix}") for suffix in ("-wal", "-shm"))
        assert wal.stat().st_size > 0
        assert {stat.S_IMODE(p.stat().st_mode) for p in (wal, shm)} == {0o644}, "side files follow the store"
        for folder in (sluice.home.root, sluice.home.jobs_dir, sluice.home.logs_dir):
            os.chmod(folder, 0o755)  # the writer made them private at open; the owner shares them again
        for path in sluice.home.root.rglob("*.toml"):
            os.chmod(path, 0o644)
        result = await sluice.cli("runs", "--json", prefix=_other_user())
        assert result.code == 0, result.stderr
        assert [run["id"] for run in result.json()["runs"]] == [run_id]
        await writer.submit("hello", {})  # the writer still works after a reader came and went


def store_one_version_old(path: Path) -> None:
    """A store as the previous Sluice left it: every migration but the last, in WAL mode."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        for version, script in migration_scripts()[:-1]:
            conn.executescript(script)
            conn.execute(f"PRAGMA user_version = {version}")
    conn.close()


async def test_a_store_that_needs_a_migration_is_refused_by_reads_and_upgraded_by_a_write(tmp_path: Path) -> None:
    sluice = SluiceHome(tmp_path, NODES)
    sluice.add_job("hello", JOBS["hello"])
    store_one_version_old(sluice.home.db_path)
    before = snapshot(sluice.home.root)
    for args in (("runs",), ("events", "--json"), ("show", "1")):
        result = await sluice.cli(*args)
        assert result.code == 1, f"{args}: exit {result.code}\n{result.stderr}"
        assert "needs upgrading" in result.stderr and "writing command or the scheduler" in result.stderr
        assert str(sluice.home.db_path) in result.stderr and "Traceback" not in result.stderr
        assert snapshot(sluice.home.root) == before, f"{args} changed the home"
    submitted = await sluice.cli_json("submit", "hello")
    runs = await sluice.cli_json("runs")
    assert [run["id"] for run in runs["runs"]] == [submitted["run_id"]]
    with sqlite3.connect(f"file:{sluice.home.db_path}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version()
    conn.close()


async def test_a_home_without_a_store_reads_as_empty_and_stays_without_one(tmp_path: Path) -> None:
    sluice = SluiceHome(tmp_path, NODES)
    before = snapshot(sluice.home.root)
    assert (await sluice.cli_json("runs")) == {"runs": []}
    assert (await sluice.cli_json("events")) == {"events": []}
    assert snapshot(sluice.home.root) == before
    missing = tmp_path / "no-such-home"
    result = await sluice.cli("runs", home=missing)
    assert result.code == 0, result.stderr
    assert not missing.exists()


async def test_the_engine_opened_read_only_follows_a_writer_that_starts_later(tmp_path: Path) -> None:
    sluice = SluiceHome(tmp_path, NODES)
    sluice.add_job("hello", JOBS["hello"])
    async with await sluice.engine() as writer:
        first, _ = await writer.submit("hello", {})
    reader = await Engine.open(sluice.home, readonly=True)
    try:
        assert [run.id for run in await reader.runs()] == [first]
        async with await sluice.engine() as writer:
            second, _ = await writer.submit("hello", {})
            assert [run.id for run in await reader.runs()] == [second, first]
            third, _ = await writer.submit("hello", {})
            assert [run.id for run in await reader.runs()] == [third, second, first]
        # The writer is gone and has folded its WAL into the main file: still seen.
        assert [run.id for run in await reader.runs()] == [third, second, first]
    finally:
        await reader.close()


async def test_a_scheduler_in_a_home_it_cannot_write_refuses_to_start_cleanly(open_dir: Path) -> None:
    sluice = SluiceHome(open_dir, NODES)
    await _populate(sluice)
    _share_read_only(sluice.home.root)
    before = snapshot(sluice.home.root)
    result = await sluice.cli("scheduler", prefix=_other_user())
    assert result.code == 1, result.stderr
    assert "Traceback" not in result.stderr and "this user may not write it" in result.stderr
    assert snapshot(sluice.home.root) == before
