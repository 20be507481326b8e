"""No run may starve or deadlock a queue: blocked runs never hold back runnable ones, and a pass costs few queries."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from harness import FAST, SluiceHome

from console.demo.localnode import LocalFleet
from scheduler.config import NodeConfig, load_nodes
from scheduler.engine import Engine
from scheduler.planner import plan_dispatch
from scheduler.run_filter import RunFilter
from scheduler.states import RunStatus
from scheduler.store import Database
from scheduler.store import queries as q

HOURLY = '[partition]\nparam = "hour"\nkind = "hourly"\n'
UP_JOB = 'command = "true"\n' + HOURLY
DOWN_JOB = 'command = "true"\nafter = ["up"]\n' + HOURLY
#: 126 days of hours: 3,024 partitions, more than a pass's whole scan budget (500 x 4).
FIRST_HOUR, LAST_HOUR = "2026-01-01T00", "2026-05-06T23"
SCAN_LIMIT = 500


def _nodes_toml(slots: int, labels: dict[str, list[str]]) -> str:
    return "\n".join(f'[[node]]\nname = "{name}"\nhost = "127.0.0.1"\nslots = {slots}\nlabels = {json.dumps(labels[name])}\n'
                     for name in labels)


def _healthy(name: str) -> tuple[bool, str | None]:
    return True, None


@dataclasses.dataclass
class Store:
    """A home (job files, nodes.toml) and an Engine on its real SQLite store; no scheduler."""

    home: SluiceHome
    engine: Engine
    nodes: list[NodeConfig]

    async def backfill(self, job: str, range_from: str, range_to: str) -> list[int]:
        plan = await self.engine.plan_backfill(job, range_from=range_from, range_to=range_to)
        _, run_ids = await self.engine.create_backfill(plan)
        return run_ids

    async def plan(self) -> list[tuple[int, str]]:
        planned = await plan_dispatch(self.engine.db, self.nodes, _healthy, SCAN_LIMIT)
        return [(run.id, node.name) for run, node in planned]

    async def succeed(self, run_id: int) -> None:
        now = self.engine.now()
        async with self.engine.db.write() as conn:
            await q.transition_run(conn, run_id, RunStatus.RUNNING, now, kind="dispatched", actor="test")
            await q.transition_run(conn, run_id, RunStatus.SUCCEEDED, now, kind="ended", actor="test")


async def _open_store(root: Path, slots: int = 2, labels: dict[str, list[str]] | None = None) -> Store:
    home = SluiceHome(root, _nodes_toml(slots, labels or {"n1": [], "n2": []}))
    for name, toml in (("up", UP_JOB), ("down", DOWN_JOB), ("plain", 'command = "true"\n'),
                       ("gpu", 'command = "true"\nlabels = ["gpu"]\n'),
                       ("special", 'command = "true"\nlabels = ["special"]\n')):
        home.add_job(name, toml)
    return Store(home, await home.engine(), load_nodes(home.home.nodes_file))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """Two nodes, n1 and n2, 2 slots each, no labels."""
    opened = await _open_store(tmp_path)
    yield opened
    await opened.engine.close()


class StatementCounter:
    """Counts the SQL statements the store's sqlite3 connection runs while active."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.statements: list[str] = []

    async def __aenter__(self) -> StatementCounter:
        await self.db.conn.set_trace_callback(self.statements.append)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.db.conn.set_trace_callback(None)

    @property
    def queries(self) -> int:
        """Statements other than the transaction's BEGIN and ROLLBACK."""
        return sum(1 for sql in self.statements if sql.split()[0].upper() not in ("BEGIN", "ROLLBACK", "COMMIT"))


async def test_thousands_of_blocked_downstream_runs_do_not_hold_back_upstream_or_plain_runs(store: Store) -> None:
    blocked = await store.backfill("down", FIRST_HOUR, LAST_HOUR)
    assert len(blocked) == 3_024
    upstream = await store.backfill("up", "2026-03-01T00", "2026-03-01T01")
    plain, _ = await store.engine.submit("plain", {})
    planned = [run_id for run_id, _ in await store.plan()]
    assert planned == [*upstream, plain]  # FIFO among the runnable; every blocked run is passed over


async def test_a_downstream_run_is_planned_once_its_upstream_partition_succeeded(store: Store) -> None:
    blocked = await store.backfill("down", FIRST_HOUR, LAST_HOUR)
    done, retried, queued = await store.backfill("up", "2026-03-01T00", "2026-03-01T02")
    for run_id in (done, retried):
        await store.succeed(run_id)
    await store.engine.retry([retried])  # the newest run of a partition decides: queued again, so not done
    ready = blocked[24 * 59]  # 2026-03-01T00, 31 + 28 days in
    assert (await store.engine.run(ready)).partition == "2026-03-01T00"
    assert [run_id for run_id, _ in await store.plan()] == [ready, retried, queued]
    reasons = await store.engine.wait_reasons(await store.engine.runs(RunFilter(job="down"), limit=3_024))
    assert reasons[blocked[24 * 59 + 1]] == "waiting for upstream up partition 2026-03-01T01, which is queued"
    assert reasons[blocked[0]] == "waiting for upstream up partition 2026-01-01T00, which has no run yet"
    assert reasons[ready] == "ready, but no scheduler is running for this home (start one: sluice scheduler)"


async def test_thousands_of_runs_needing_labels_no_node_has_do_not_hold_back_others(store: Store) -> None:
    await store.engine.submit_many("gpu", [{}] * 3_000)
    plain, _ = await store.engine.submit("plain", {})
    assert [run_id for run_id, _ in await store.plan()] == [plain]


async def test_runs_waiting_for_their_only_matching_node_do_not_hold_back_others(tmp_path: Path) -> None:
    store = await _open_store(tmp_path, labels={"n1": [], "n2": ["special"]})
    try:
        special = await store.engine.submit_many("special", [{}] * 3_000)
        plain = await store.engine.submit_many("plain", [{}] * 2)
        # n2 takes two special runs; the other 2,998 wait for it while n1 runs the plain ones behind them.
        assert sorted(await store.plan()) == sorted([(special[0], "n2"), (special[1], "n2"),
                                                     (plain[0], "n1"), (plain[1], "n1")])
    finally:
        await store.engine.close()


async def _queries_per_pass(root: Path, blocked_hours: tuple[str, str], unplaceable: int) -> tuple[int, list[int]]:
    store = await _open_store(root)
    try:
        await store.backfill("down", *blocked_hours)
        await store.engine.submit_many("gpu", [{}] * unplaceable)
        plain, _ = await store.engine.submit("plain", {})
        async with StatementCounter(store.engine.db) as counter:
            planned = [run_id for run_id, _ in await store.plan()]
        assert planned == [plain]
        return counter.queries, planned
    finally:
        await store.engine.close()


async def test_a_dispatch_pass_costs_the_same_few_queries_whatever_the_queue_holds(tmp_path: Path) -> None:
    short, _ = await _queries_per_pass(tmp_path / "short", ("2026-01-01T00", "2026-01-01T09"), 10)
    long, _ = await _queries_per_pass(tmp_path / "long", (FIRST_HOUR, LAST_HOUR), 3_000)
    assert long == short
    assert long <= 12


async def test_explaining_thousands_of_upstream_waits_costs_a_few_queries(store: Store) -> None:
    blocked = await store.backfill("down", FIRST_HOUR, LAST_HOUR)
    runs = await store.engine.runs(RunFilter(job="down"), limit=3_024)
    async with StatementCounter(store.engine.db) as counter:
        reasons = await store.engine.wait_reasons(runs)
    assert len(reasons) == len(blocked)
    assert all(reason.startswith("waiting for upstream up partition 2026-") and reason.endswith("has no run yet")
               for reason in reasons.values())
    assert counter.queries <= 20


async def test_the_scheduler_starts_upstream_and_plain_runs_behind_a_blocked_backfill(tmp_path: Path) -> None:
    async with LocalFleet(tmp_path / "keys") as fleet:
        await fleet.start_node("n1")
        home = SluiceHome(tmp_path, fleet.nodes_toml(slots=2, workdir=str(tmp_path / "workers")))
        home.add_job("up", UP_JOB)
        home.add_job("down", DOWN_JOB)
        home.add_job("plain", 'command = "true"\n')
        try:
            # 100 blocked runs against a scan budget of 10 x 4 per pass: before the fix they hid everything behind.
            blocked = (await home.cli_json("backfill", "down", "--from", "2026-01-01T00", "--to",
                                           "2026-01-05T03"))["run_ids"]
            assert len(blocked) == 100
            upstream = (await home.cli_json("backfill", "up", "--from", "2026-01-03T00", "--to",
                                            "2026-01-03T00"))["run_ids"]
            plain = await home.submit("plain")
            await home.start_scheduler(dataclasses.replace(FAST, scan_limit=10))
            assert (await home.wait_ended(plain))["status"] == "succeeded"
            assert (await home.wait_ended(upstream[0]))["status"] == "succeeded"
            released = blocked[48]
            assert (await home.run_json(released))["partition"] == "2026-01-03T00"
            assert (await home.wait_ended(released))["status"] == "succeeded"
            shown = await home.cli_json("show", str(blocked[49]))
            assert shown["status"] == "queued"
            assert shown["wait_reason"] == "waiting for upstream up partition 2026-01-03T01, which has no run yet"
        finally:
            await home.stop_scheduler()
