"""The scheduler's memory follows what was committed: a pass whose transaction fails changes nothing in memory
and its inputs are handled again by a later pass. Faults are real SQLite failures (a trigger that aborts a
statement), injected into the store file from outside like a full disk or a busy store would be."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness import FAST, SluiceHome
from reliability import FaultFigures, ledger_duplicates, report, store_vs_worker_bytes

from console.demo.localnode import LocalFleet
from scheduler.config import load_nodes
from scheduler.process.loop import Scheduler
from scheduler.ssh.executor import SshExecutor


@contextmanager
def store_fault(db_path: Path, name: str, trigger_sql: str) -> Iterator[None]:
    """A trigger that makes some statement of the scheduler fail, until the block exits."""
    conn = sqlite3.connect(str(db_path), isolation_level=None, timeout=30)
    conn.execute(f"CREATE TRIGGER {name} {trigger_sql}")
    try:
        yield
    finally:
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        conn.close()


def query(db_path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(str(db_path), timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


async def wait_until(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def scheduler_errors(db_path: Path, text: str) -> int:
    rows = query(db_path, "SELECT count(*) FROM events WHERE kind = 'scheduler_error' AND detail LIKE ?",
                 (f"%{text}%",))
    return int(rows[0][0])  # type: ignore[call-overload]


async def test_a_run_whose_end_failed_to_commit_is_still_watched_and_ends(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    async with LocalFleet(tmp_path / "keys") as fleet:
        await fleet.start_node("n1")
        home = SluiceHome(tmp_path, fleet.nodes_toml(slots=2, workdir=str(tmp_path / "workers")))
        home.add_job("quick", f"command = 'echo start >> {ledger}; echo done'\n")
        async with await home.engine():
            pass  # create the store (reads like `sluice runs` create nothing)
        db_path = home.home.db_path
        with store_fault(db_path, "no_success",
                         "BEFORE UPDATE OF status ON runs WHEN NEW.status = 'succeeded' "
                         "BEGIN SELECT RAISE(ABORT, 'injected: run end refused'); END"):
            await home.start_scheduler(FAST)
            try:
                run_id = await home.submit("quick")
                await wait_until(lambda: scheduler_errors(db_path, "injected: run end refused") > 0)
                refused = scheduler_errors(db_path, "injected: run end refused")
                assert query(db_path, "SELECT status FROM runs WHERE id = ?", (run_id,)) == [("running",)]
                assert query(db_path, "SELECT status FROM attempts WHERE run_id = ?", (run_id,)) == [("running",)]
            except BaseException:
                await home.stop_scheduler()
                raise
        healed_at = time.monotonic()
        try:
            final = await home.wait_ended(run_id, timeout=30)  # the fault is gone: the end is committed now
            recover = time.monotonic() - healed_at
        finally:
            await home.stop_scheduler()
        refused_total = scheduler_errors(db_path, "injected: run end refused")
    starts, duplicated = ledger_duplicates(ledger)
    report(FaultFigures(
        "store fault: the commit that ends a run fails", "a SQLite trigger on the store file aborts the UPDATE "
        "setting a run succeeded, until it is dropped", 1, int(final["status"] != "succeeded" or starts == 0),
        duplicated, store_vs_worker_bytes(home), round(recover, 2), "tests/test_scheduler_memory.py",
        f"run and attempt still running in the store after the job ended; {refused} scheduler_error event(s) "
        f"when the trigger was checked, {refused_total} in all before it was dropped"))
    assert final["status"] == "succeeded"
    assert ledger.read_text().splitlines() == ["start"], "the job started exactly once"


async def test_a_launch_result_whose_commit_failed_is_recorded_by_a_later_pass(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    async with LocalFleet(tmp_path / "keys") as fleet:
        await fleet.start_node("n1")
        home = SluiceHome(tmp_path, fleet.nodes_toml(slots=2, workdir=str(tmp_path / "workers")))
        home.add_job("steady", f"command = 'echo start >> {ledger}; sleep 2; echo done'\n")
        async with await home.engine():
            pass  # create the store
        db_path = home.home.db_path
        with store_fault(db_path, "no_started_event",
                         "BEFORE INSERT ON events WHEN NEW.kind = 'attempt_started' "
                         "BEGIN SELECT RAISE(ABORT, 'injected: start refused'); END"):
            await home.start_scheduler(FAST)
            try:
                run_id = await home.submit("steady")
                await wait_until(lambda: scheduler_errors(db_path, "injected: start refused") > 0)
                refused = scheduler_errors(db_path, "injected: start refused")
                shown = query(db_path, "SELECT status, pid IS NOT NULL FROM attempts WHERE run_id = ?", (run_id,))
            except BaseException:
                await home.stop_scheduler()
                raise
        healed_at = time.monotonic()
        try:
            final = await home.wait_ended(run_id, timeout=30)
            recover = time.monotonic() - healed_at
        finally:
            await home.stop_scheduler()
    starts, duplicated = ledger_duplicates(ledger)
    started_events = query(db_path, "SELECT count(*) FROM events WHERE kind = 'attempt_started' AND run_id = ?",
                           (run_id,))[0][0]
    report(FaultFigures(
        "store fault: the commit recording a launch's answer fails", "a SQLite trigger on the store file aborts "
        "the INSERT of the attempt_started event, until it is dropped", 1,
        int(final["status"] != "succeeded" or starts == 0), duplicated, store_vs_worker_bytes(home),
        round(recover, 2), "tests/test_scheduler_memory.py",
        f"{refused} scheduler_error event(s) when the trigger was checked; attempt (status, pid recorded) then: "
        f"{shown}; {started_events} attempt_started event in the end; recovery includes the job's 2 s sleep"))
    assert final["status"] == "succeeded"
    started = query(db_path, "SELECT count(*) FROM events WHERE kind = 'attempt_started' AND run_id = ?", (run_id,))
    assert started == [(1,)], "the launch's answer was kept and committed once the store took it"
    assert query(db_path, "SELECT pid IS NOT NULL FROM attempts WHERE run_id = ?", (run_id,)) == [(1,)]
    assert ledger.read_text().splitlines() == ["start"]


async def test_run_until_idle_returns_once_every_run_that_can_end_has_ended(tmp_path: Path) -> None:
    async with LocalFleet(tmp_path / "keys") as fleet:
        await fleet.start_node("n1")
        home = SluiceHome(tmp_path, fleet.nodes_toml(slots=2, workdir=str(tmp_path / "workers")))
        home.add_job("quick", "command = 'echo hi'\n")
        home.add_job("held", "command = 'echo held'\nqueue = \"parked\"\n")
        held = await home.submit("held")
        assert (await home.cli("pause", "parked")).code == 0
        quick = [await home.submit("quick") for _ in range(3)]
        scheduler = home.make_scheduler(FAST)
        await asyncio.wait_for(scheduler.run_until_idle(), 60)
        statuses = dict(query(home.home.db_path, "SELECT id, status FROM runs"))
    assert [statuses[run_id] for run_id in quick] == ["succeeded"] * 3
    assert statuses[held] == "queued", "a paused queue's run waits; idle does not mean everything ran"


async def test_run_until_idle_records_a_node_state_that_changed_after_the_pass_read_it(tmp_path: Path) -> None:
    async with LocalFleet(tmp_path / "keys") as fleet:
        await fleet.start_node("n1")
        home = SluiceHome(tmp_path, fleet.nodes_toml(slots=2, workdir=str(tmp_path / "workers")))
        scheduler = home.make_scheduler(FAST)
        dispatch = scheduler._dispatch
        passes_since_up: list[int] = []

        async def refused_once_recorded_up() -> bool:
            # In a pass that found nothing new (the one after "up" was recorded), the node changes between the
            # pass's health read and the idle check, as a connection failing at that moment would.
            if scheduler.memory.node_recorded.get("n1", ("unknown", None))[0] == "up":
                passes_since_up.append(1)
                if len(passes_since_up) == 2:
                    scheduler.executor.links["n1"].refuse("refused after the pass read its health")  # type: ignore[attr-defined]
            return await dispatch()

        scheduler._dispatch = refused_once_recorded_up  # type: ignore[method-assign]
        await asyncio.wait_for(scheduler.run_until_idle(), 60)
        recorded = query(home.home.db_path, "SELECT state, last_error FROM nodes WHERE name = 'n1'")
    assert recorded == [("refused", f"node n1 (127.0.0.1:{fleet.nodes()[0].port}): refused after the pass read "
                                    "its health")], "idle must not leave the store a node state behind"


class SeenLate(SshExecutor):
    """A node whose first answer (already in) shows only once `shown` is set: a check that came back late."""

    shown = False

    def health(self, target: str) -> tuple[str, str | None]:
        return super().health(target) if self.shown else ("unknown", None)


class AnsweredDuringTheFirstPass(Scheduler):
    """The node's answer arrives while the first pass runs, after that pass's dispatch found it unchecked."""

    async def _dispatch(self) -> bool:
        dispatched = await super()._dispatch()
        assert isinstance(self.executor, SeenLate)
        self.executor.shown = True
        return dispatched


async def test_run_until_idle_does_not_stop_on_a_pass_that_ran_before_a_node_answered(tmp_path: Path) -> None:
    """The reported flake: the first pass found the node unchecked, its check answered meanwhile, and the
    scheduler called itself idle with the run still queued, though a pass with the node up would start it."""
    async with LocalFleet(tmp_path / "keys") as fleet:
        await fleet.start_node("n1")
        home = SluiceHome(tmp_path, fleet.nodes_toml(slots=1, workdir=str(tmp_path / "workers")))
        home.add_job("quick", "command = 'echo hi'\n")
        run_id = await home.submit("quick")
        nodes = load_nodes(home.home.nodes_file)
        executor = SeenLate(nodes)
        await executor.check("n1")  # the node is up before the scheduler starts; it shows during pass one
        scheduler = AnsweredDuringTheFirstPass(home.home, executor, nodes, settings=FAST)
        await asyncio.wait_for(scheduler.run_until_idle(), 60)
        statuses = dict(query(home.home.db_path, "SELECT id, status FROM runs"))
    assert executor.shown, "the node showed as up during the first pass"
    assert statuses[run_id] == "succeeded", "the pass that found no usable node ran before the node answered"
