"""A busy store is waited for, then reported as busy with its holder; a failed COMMIT never wedges the connection."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from harness import SluiceHome
from reliability import FaultFigures, ledger_duplicates, report, store_vs_worker_bytes

from scheduler.errors import StoreBusy, StoreUnreadable
from scheduler.store import open_database

#: How long a holder waits for the lock: a running scheduler takes it every tick, so no short fixed limit.
LOCK_WAIT = 60.0


class _LockHolder(threading.Thread):
    """Another connection holding a lock on a store, in a thread. A failure there (the lock never taken) is
    raised by wait_locked() and join() in the test, never left as an unhandled thread exception."""

    def __init__(self, path: Path, seconds: float, started: threading.Event, read: bool,
                 until: threading.Event | None) -> None:
        super().__init__(daemon=True)
        self.path, self.seconds, self.started, self.read, self.until = path, seconds, started, read, until
        self.settled = threading.Event()  # the lock is held, or the thread failed
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            self._hold()
        except Exception as exc:
            self.error = exc
        finally:
            self.settled.set()

    def _hold(self) -> None:
        conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=LOCK_WAIT)
        try:
            if self.read:
                conn.execute("BEGIN")
                conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
            else:
                conn.execute("BEGIN EXCLUSIVE")
            self.started.set()
            self.settled.set()
            threading.Event().wait(self.seconds)
            if self.until is not None and not self.until.wait(LOCK_WAIT):
                raise TimeoutError(f"the lock was to be released within {LOCK_WAIT:g}s")
            conn.execute("ROLLBACK")
        finally:
            conn.close()

    def wait_locked(self) -> None:
        if not self.settled.wait(LOCK_WAIT + 10):
            raise AssertionError(f"the holder neither took the lock nor failed within {LOCK_WAIT + 10:g}s")
        self._raise()

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        self._raise()

    def _raise(self) -> None:
        if self.error is not None:
            raise AssertionError(f"the lock holder failed: {self.error!r}") from self.error


def _hold_lock(path: Path, seconds: float, started: threading.Event, read: bool = False, *,
               until: threading.Event | None = None) -> _LockHolder:
    """Another connection holds a lock on a store for `seconds` (a real SQLite lock, in a thread): the write
    lock, or with `read` a read transaction's shared lock; with `until`, also until that is set. Returns once
    the lock is held. This blocks the calling thread: on an event loop whose scheduler may have a transaction
    open, use _hold_lock_beside, or that transaction could never end and the lock never be taken."""
    holder = _LockHolder(path, seconds, started, read, until)
    holder.start()
    holder.wait_locked()
    return holder


async def _hold_lock_beside(path: Path, seconds: float, started: threading.Event, *,
                            until: threading.Event | None = None) -> _LockHolder:
    """_hold_lock for a test whose event loop runs a scheduler: the loop keeps running while the holder waits."""
    holder = _LockHolder(path, seconds, started, False, until)
    holder.start()
    await asyncio.to_thread(holder.wait_locked)
    return holder


async def test_opening_a_fresh_store_waits_for_a_connection_holding_its_lock(tmp_path: Path) -> None:
    # A brand-new store is still in rollback-journal mode: switching it to WAL needs the lock another
    # opener (a CLI started beside the scheduler) may hold. SQLite does not wait there by itself.
    path = tmp_path / "sluice.db"
    sqlite3.connect(str(path)).close()
    holder = _hold_lock(path, 0.5, threading.Event(), read=True)
    db = await open_database(path)
    try:
        row = await db.fetchone("PRAGMA journal_mode")
        assert row is not None and row[0] == "wal"
    finally:
        await db.close()
        holder.join()


async def test_concurrent_first_opens_of_one_store_all_succeed(tmp_path: Path) -> None:
    for round_number in range(100):
        path = tmp_path / f"store-{round_number}.db"
        opened = await asyncio.gather(*[open_database(path) for _ in range(4)], return_exceptions=True)
        errors = [result for result in opened if isinstance(result, BaseException)]
        for result in opened:
            if not isinstance(result, BaseException):
                await result.close()
        assert errors == []


async def test_a_store_locked_past_the_timeout_is_reported_busy_with_its_holder(tmp_path: Path) -> None:
    path = tmp_path / "sluice.db"
    await (await open_database(path)).close()  # create and migrate it first
    db = await open_database(path, busy_timeout=0.3)
    holder = _hold_lock(path, 2.0, threading.Event())
    try:
        with pytest.raises(StoreBusy) as caught:
            async with db.write() as conn:
                await conn.execute("INSERT INTO meta (key, value) VALUES ('x', 'y')")
        message = str(caught.value)
        assert "busy" in message and str(path) in message
        assert "this process" in message or "pid" in message
        assert not isinstance(caught.value, StoreUnreadable)
        # The connection is usable again once the holder is gone.
        holder.join()
        async with db.write() as conn:
            await conn.execute("INSERT INTO meta (key, value) VALUES ('x', 'y')")
    finally:
        holder.join()
        await db.close()


async def test_a_failed_commit_rolls_back_and_the_next_transaction_works(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "sluice.db")
    try:
        # A deferred foreign key violation makes COMMIT itself fail: the real failure mode, no mock.
        with pytest.raises(sqlite3.IntegrityError):
            async with db.write() as conn:
                await conn.execute("PRAGMA defer_foreign_keys = ON")
                await conn.execute("INSERT INTO checkpoints (run_id, attempt, at, value, offset) "
                                   "VALUES (999, 1, '2026-01-01T00:00:00+00:00', 'x', 0)")
        async with db.write() as conn:
            await conn.execute("INSERT INTO meta (key, value) VALUES ('after', 'commit failure')")
        row = await db.fetchone("SELECT value FROM meta WHERE key = 'after'")
        assert row is not None and row[0] == "commit failure"
        assert await db.fetchone("SELECT * FROM checkpoints") is None
    finally:
        await db.close()


async def test_the_cli_waits_for_a_busy_store_instead_of_failing(tmp_path: Path) -> None:
    home = SluiceHome(tmp_path, "")
    home.add_job("hello", 'command = "echo hi"\n')
    async with await home.engine():
        pass  # creates the store (a read like `sluice runs` no longer does)
    holder = _hold_lock(home.home.db_path, 1.0, threading.Event())
    result = await home.cli("submit", "hello", "--json")
    holder.join()
    assert result.code == 0, result.stderr
    assert "run_id" in result.json()


async def test_the_cli_reports_a_store_busy_past_its_timeout_without_a_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = SluiceHome(tmp_path, "")
    home.add_job("hello", 'command = "echo hi"\n')
    async with await home.engine():
        pass  # creates the store
    monkeypatch.setenv("SLUICE_BUSY_TIMEOUT", "0.3")
    holder = _hold_lock(home.home.db_path, 3.0, threading.Event())
    result = await home.cli("submit", "hello")
    holder.join()
    assert result.code == StoreBusy.exit_code, result.stderr
    assert "is busy" in result.stderr and "Traceback" not in result.stderr
    assert "move it aside" not in result.stderr
    runs = await home.cli_json("runs")
    assert runs == [] or runs.get("runs") == []  # nothing was submitted


async def test_a_scheduler_outlasts_a_store_locked_past_its_timeout_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from harness import FAST

    from console.demo.localnode import LocalFleet

    monkeypatch.setenv("SLUICE_BUSY_TIMEOUT", "0.3")
    ledger, gate, workers = tmp_path / "ledger", tmp_path / "gate", tmp_path / "workers"
    async with LocalFleet(tmp_path / "keys") as fleet:
        await fleet.start_node("n1")
        home = SluiceHome(tmp_path, fleet.nodes_toml(slots=2, workdir=str(workers)))
        home.add_job("steady", f"command = 'echo start >> {ledger}; n=0; until [ -e {gate} ]; do n=$((n + 1)); "
                               "if [ $n -gt 2400 ]; then exit 1; fi; sleep 0.05; done; echo done'\n")
        await home.start_scheduler(FAST)
        try:
            run_id = await home.submit("steady")
            await home.wait_for(run_id, {"running"})
            release = threading.Event()
            # Taken beside the running loop: a pass may have its transaction open, and must be able to end it.
            holder = await _hold_lock_beside(home.home.db_path, 1.0, threading.Event(), until=release)
            locked_at = time.monotonic()
            try:
                gate.touch()  # the job ends while the store is locked
                deadline = time.monotonic() + 60
                while not (any(path.is_file() for path in workers.rglob("exit")) and any(
                        record.name == "sluice.scheduler" and "is busy" in record.getMessage()
                        for record in caplog.records)):
                    assert time.monotonic() < deadline, "the job's end and the scheduler's busy store: not within 60s"
                    await asyncio.sleep(0.05)
            finally:
                release.set()  # held past the busy timeout, until the job ended and the scheduler saw the lock
                await asyncio.to_thread(holder.join)
            released_at = time.monotonic()
            final = await home.wait_ended(run_id, timeout=30)
            recover = time.monotonic() - released_at
        finally:
            await home.stop_scheduler()
        busy = (await home.cli_json("events", "--kind", "store_busy"))["events"]
    starts, duplicated = ledger_duplicates(ledger)
    report(FaultFigures(
        "store locked past the scheduler's busy timeout", f"another connection holds BEGIN EXCLUSIVE for "
        f"{released_at - locked_at:.1f} s, SLUICE_BUSY_TIMEOUT=0.3 s, while the running job ends", 1,
        int(final["status"] != "succeeded" or starts == 0), duplicated, store_vs_worker_bytes(home),
        round(recover, 2), "tests/test_store_busy.py",
        f"{len(busy)} store_busy event(s)" + (f", the first: {busy[0]['detail']!r}" if busy else "")))
    assert final["status"] == "succeeded"
    assert ledger.read_text().splitlines() == ["start"]
    assert busy and "lost nothing" in busy[0]["detail"]


async def test_a_busy_spell_that_begins_as_the_last_one_is_reported_never_stops_the_scheduler(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness import FAST

    from console.demo.localnode import LocalFleet

    monkeypatch.setenv("SLUICE_BUSY_TIMEOUT", "0.3")
    gate = tmp_path / "gate"
    async with LocalFleet(tmp_path / "keys") as fleet:
        await fleet.start_node("n1")
        home = SluiceHome(tmp_path, fleet.nodes_toml(slots=2, workdir=str(tmp_path / "workers")))
        home.add_job("gated", f"command = 'while [ ! -e {gate} ]; do sleep 0.05; done; echo done'\n")
        scheduler = await home.start_scheduler(FAST)
        path = home.home.db_path
        try:
            run_ids = [await home.submit("gated") for _ in range(2)]
            for run_id in run_ids:
                await home.wait_for(run_id, {"running"})
            seen_busy, second = threading.Event(), []

            def before_statement(sql: str) -> None:
                # Runs on the scheduler's SQLite thread before each statement. The second spell must begin in the
                # one window a lock from outside cannot be timed into: after the pass that ended the first spell
                # committed, as the scheduler begins the write of its store_busy event. That pass resets the
                # scheduler's last error just before that write, which tells it from the pass's own writes.
                if sql != "BEGIN IMMEDIATE" or second:
                    return
                if scheduler._last_error is not None:
                    seen_busy.set()
                elif seen_busy.is_set():
                    second.append(_hold_lock(path, 1.0, threading.Event()))

            await scheduler.database.conn.set_trace_callback(before_statement)
            first = await _hold_lock_beside(path, 1.5, threading.Event())
            await asyncio.to_thread(first.join)
            deadline = time.monotonic() + 30
            while not second:
                assert time.monotonic() < deadline, "the scheduler never wrote after the first busy spell"
                await asyncio.sleep(0.05)
            await asyncio.to_thread(second[0].join)
            gate.touch()
            finals = [await home.wait_ended(run_id, timeout=30) for run_id in run_ids]
            assert home._task is not None and not home._task.done(), "the scheduler loop must keep running"
        finally:
            await home.stop_scheduler()
        busy = (await home.cli_json("events", "--kind", "store_busy"))["events"]
    assert [final["status"] for final in finals] == ["succeeded"] * 2, finals
    # The first spell's event could not be written before the second began: one event tells both, in full.
    assert len(busy) == 1 and "lost nothing" in busy[0]["detail"], busy
    assert int(busy[0]["detail"].split("for about ")[1].split("s")[0]) >= 2, busy
