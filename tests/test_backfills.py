"""Backfills over SSH: throttled, never re-running what succeeded, held by canaries, paused, cancelled."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest
from harness import SluiceHome

from console.demo.localnode import LocalFleet
from scheduler.run_filter import RunFilter

DAILY_JOB = """
command = '''echo "loading {day}"; sleep {pause}; echo "{day}" >> {out}'''
[params]
pause = "0.3"
out = "/dev/null"
[partition]
param = "day"
kind = "daily"
"""

#: A partition that runs until the test creates its gate file: the test, not the machine's speed, decides.
GATED_JOB = """
command = '''while [ ! -e {gate} ]; do sleep 0.05; done; echo "{{day}}"'''
[partition]
param = "day"
kind = "daily"
"""


@pytest.fixture
async def home(tmp_path: Path) -> AsyncIterator[SluiceHome]:
    """Two in-process SSH nodes with 3 slots each (6 in all, more than any max-parallel below)."""
    async with LocalFleet(tmp_path / "keys") as fleet:
        await fleet.start_node("n1")
        await fleet.start_node("n2")
        sluice = SluiceHome(tmp_path, fleet.nodes_toml(slots=3, workdir=str(tmp_path / "workers")))
        sluice.add_job("daily", DAILY_JOB)
        try:
            yield sluice
        finally:
            await sluice.stop_scheduler()


async def _counts(home: SluiceHome) -> tuple[int, int]:
    async with await home.engine() as engine:
        events = len(await engine.events(100_000))
        return await engine.count_runs(), events


async def _wait_backfill(home: SluiceHome, backfill_id: int, timeout: float = 60) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while True:
        detail = await home.cli_json("backfill-show", str(backfill_id))
        if detail["status"] in ("done", "cancelled") or time.monotonic() > deadline:
            return detail
        await asyncio.sleep(0.2)


def _most_at_once(spans: list[tuple[str, str | None]]) -> int:
    """The most (started, ended) spans of ended attempts open at one moment; one ending as another starts is
    not an overlap. The store's timestamps are fixed-width UTC (TIME_FORMAT), so they sort as text."""
    assert all(end is not None for _, end in spans), spans
    moments = sorted([(start, 1) for start, _ in spans] + [(end or "", -1) for _, end in spans])
    most = open_now = 0
    for _, step in moments:
        open_now += step
        most = max(most, open_now)
    return most


async def test_31_day_backfill_never_exceeds_max_parallel_and_is_not_repeated(home: SluiceHome) -> None:
    out = home.root / "loaded.txt"
    await home.start_scheduler()
    created = await home.cli_json("backfill", "daily", "--from", "2026-10-01", "--to", "2026-10-31",
                                  "--max-parallel", "3", "-p", f"out={out}")
    assert (created["planned"], created["skipped"], len(created["run_ids"])) == (31, 0, 31)
    peak = 0
    async with await home.engine() as engine:
        running = RunFilter(statuses=("running",), backfill_id=created["backfill_id"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            peak = max(peak, await engine.count_runs(running))
            assert peak <= 3, "more runs of the backfill running than --max-parallel allows"
            if await engine.count_runs(RunFilter(statuses=("succeeded",), backfill_id=created["backfill_id"])) == 31:
                break
            await asyncio.sleep(0.03)
        spans = [(attempt.started_at, attempt.ended_at) for run_id in created["run_ids"]
                 for attempt in (await engine.run_detail(run_id)).attempts]
    # From the store's record of every attempt: a sampler on a loaded machine may miss the busiest moment.
    assert _most_at_once(spans) == 3, "--max-parallel 3 on 6 free slots: 3 ran at once"
    detail = await _wait_backfill(home, created["backfill_id"])
    assert detail["status"] == "done" and detail["counts"] == {"succeeded": 31}
    assert sorted(out.read_text().split()) == [f"2026-10-{d:02d}" for d in range(1, 32)]
    again = await home.cli_json("backfill", "daily", "--from", "2026-10-01", "--to", "2026-10-31",
                                "--max-parallel", "3", "-p", f"out={out}")
    assert (again["backfill_id"], again["planned"], again["skipped"], again["run_ids"]) == (None, 0, 31, [])
    dry = await home.cli_json("backfill", "daily", "--from", "2026-10-01", "--to", "2026-10-31", "--rerun-succeeded",
                              "--dry-run")
    assert dry["planned"] == 31 and dry["skipped"] == 0


async def test_dry_run_prints_the_plan_and_creates_nothing(home: SluiceHome) -> None:
    first = await home.cli_json("backfill", "daily", "--from", "2026-01-01", "--to", "2026-01-03")
    before = await _counts(home)
    dry = await home.cli_json("backfill", "daily", "--from", "2025-12-30", "--to", "2026-01-05", "--dry-run",
                              "--order", "newest-first")
    assert await _counts(home) == before
    assert dry["backfill_id"] is None and dry["run_ids"] == []
    assert dry["partitions"] == ["2026-01-05", "2026-01-04", "2025-12-31", "2025-12-30"]
    assert dry["planned"] == 4 and dry["skipped"] == 3
    text = (await home.cli("backfill", "daily", "--from", "2025-12-30", "--to", "2026-01-05", "--dry-run")).text
    assert "4 runs planned, 3 partitions skipped" in text and "skipped 3: already queued" in text
    assert "dry run: nothing created" in text
    assert first["planned"] == 3


async def test_canary_runs_the_first_partitions_and_holds_the_rest(home: SluiceHome) -> None:
    created = await home.cli_json("backfill", "daily", "--from", "2026-02-01", "--to", "2026-02-06", "--canary", "2",
                                  "-p", "pause=0")
    backfill_id = str(created["backfill_id"])
    await home.run_until_idle()  # the canary runs; the rest is held, so the scheduler goes idle
    detail = await home.cli_json("backfill-show", backfill_id)
    statuses = [p["status"] for p in detail["partitions"]]
    assert statuses == ["succeeded", "succeeded", "queued", "queued", "queued", "queued"]
    assert all("canary" in p["wait_reason"] for p in detail["partitions"][2:])
    assert (await home.cli("backfill-resume", backfill_id)).code == 0
    await home.start_scheduler()
    detail = await _wait_backfill(home, created["backfill_id"])
    assert detail["counts"] == {"succeeded": 6}


async def test_pause_holds_new_starts_and_resume_continues(home: SluiceHome) -> None:
    gate = home.root / "gate"
    home.add_job("gated", GATED_JOB.format(gate=gate))
    await home.start_scheduler()
    created = await home.cli_json("backfill", "gated", "--from", "2026-03-01", "--to", "2026-03-06",
                                  "--max-parallel", "1")
    backfill_id = str(created["backfill_id"])
    await home.wait_for(created["run_ids"][0], {"running"})
    assert (await home.cli("backfill-pause", backfill_id)).code == 0
    gate.touch()  # the running partition ends only after the pause
    await home.wait_ended(created["run_ids"][0])
    await home.stop_scheduler()
    await home.run_until_idle()  # whatever a running scheduler would do now, it has done
    detail = await home.cli_json("backfill-show", backfill_id)
    assert detail["status"] == "paused"
    assert detail["counts"].get("running", 0) == 0 and detail["counts"]["queued"] >= 4
    assert all(p["wait_reason"] == f"backfill {backfill_id} is paused"
               for p in detail["partitions"] if p["status"] == "queued")
    assert (await home.cli("backfill-resume", backfill_id)).code == 0
    await home.start_scheduler()
    assert (await _wait_backfill(home, created["backfill_id"]))["counts"] == {"succeeded": 6}


async def test_cancel_stops_queued_runs_and_lets_running_ones_finish(home: SluiceHome) -> None:
    gate = home.root / "gate"
    home.add_job("gated", GATED_JOB.format(gate=gate))
    await home.start_scheduler()
    created = await home.cli_json("backfill", "gated", "--from", "2026-04-01", "--to", "2026-04-05",
                                  "--max-parallel", "1")
    await home.wait_for(created["run_ids"][0], {"running"})
    result = await home.cli("backfill-cancel", str(created["backfill_id"]), "--reason", "bad fix")
    assert result.code == 0, result.stderr
    gate.touch()  # the running partition ends only after the cancel, however slow the machine is
    first = await home.wait_ended(created["run_ids"][0])
    assert first["status"] == "succeeded"
    detail = await home.cli_json("backfill-show", str(created["backfill_id"]))
    assert detail["status"] == "cancelled" and detail["counts"] == {"succeeded": 1, "cancelled": 4}
    events = await home.cli_json("events", "--kind", "backfill_cancelled")
    assert "bad fix" in events["events"][0]["detail"]


async def test_throttle_change_and_retry_failed(home: SluiceHome) -> None:
    home.add_job("picky", """
command = '''case {day} in *-03) [ -e {fixed} ] || exit 4 ;; esac; echo ok'''
[params]
fixed = "/nonexistent"
[partition]
param = "day"
kind = "daily"
""")
    fixed = home.root / "fixed"
    created = await home.cli_json("backfill", "picky", "--from", "2026-05-01", "--to", "2026-05-04",
                                  "--max-parallel", "1", "-p", f"fixed={fixed}")
    backfill_id = str(created["backfill_id"])
    result = await home.cli("backfill-set", backfill_id, "--max-parallel", "4")  # before it can finish
    assert result.code == 0, result.stderr
    await home.start_scheduler()
    detail = await _wait_backfill(home, created["backfill_id"])
    assert detail["max_parallel"] == 4 and detail["counts"] == {"succeeded": 3, "failed": 1}
    fixed.touch()
    assert (await home.cli("backfill-retry-failed", backfill_id)).code == 0
    detail = await _wait_backfill(home, created["backfill_id"])
    assert detail["counts"] == {"succeeded": 4}


async def test_10000_partition_backfill_is_created_in_one_go(home: SluiceHome) -> None:
    home.add_job("hourly", 'command = "true"\n[partition]\nparam = "hour"\nkind = "hourly"\n')
    created = await home.cli_json("backfill", "hourly", "--from", "2025-01-01T00", "--to", "2026-02-21T15")
    assert created["planned"] == 10_000 and len(set(created["run_ids"])) == 10_000
    runs, _ = await _counts(home)
    assert runs == 10_000
    backfills = await home.cli_json("backfills")
    assert backfills["backfills"][0]["planned"] == 10_000


async def test_list_partition_backfill_runs_the_named_values(home: SluiceHome) -> None:
    home.add_job("scan", """
command = '''echo "scanned {host}"'''
[partition]
param = "host"
kind = "list"
values = ["web-01", "web-02", "db-01"]
""")
    await home.start_scheduler()
    created = await home.cli_json("backfill", "scan", "--values", "db-01,web-01")
    detail = await _wait_backfill(home, created["backfill_id"])
    assert [(p["partition"], p["status"]) for p in detail["partitions"]] == [("db-01", "succeeded"),
                                                                            ("web-01", "succeeded")]
    assert (await home.cli("logs", str(created["run_ids"][0]))).stdout == b"scanned db-01\n"
    unknown = await home.cli("backfill", "scan", "--values", "web-09")
    assert unknown.code == 2 and "web-09" in unknown.stderr
    everything = await home.cli_json("backfill", "scan", "--values", "web-01,web-02,db-01", "--dry-run")
    assert everything["partitions"] == ["web-02"] and everything["skipped"] == 2


async def test_a_cancelled_backfills_running_partition_never_requeues(home: SluiceHome) -> None:
    release = home.root / "release"
    home.add_job("fragile", f"""
command = '''while [ ! -e {release} ]; do sleep 0.05; done; echo "broke" >&2; exit 3'''
[retry]
max_attempts = 3
backoff = "0.1s"
[partition]
param = "day"
kind = "daily"
""")
    await home.start_scheduler()
    created = await home.cli_json("backfill", "fragile", "--from", "2026-06-01", "--to", "2026-06-03",
                                  "--max-parallel", "1")
    first = created["run_ids"][0]
    await home.wait_for(first, {"running"})
    result = await home.cli("backfill-cancel", str(created["backfill_id"]))
    assert result.code == 0, result.stderr
    release.touch()  # the running partition now fails, with attempts left
    run = await home.wait_ended(first)
    assert run["status"] == "failed" and len(run["attempts"]) == 1, "a cancelled backfill gives no more attempts"
    after_cancel = [e["new_status"] for e in run["events"] if e["new_status"]][2:]
    assert after_cancel == ["failed"], f"never back to queued or retry_wait: {after_cancel}"
    assert "cancelled" in run["events"][-1]["detail"]
    detail = await home.cli_json("backfill-show", str(created["backfill_id"]))
    assert detail["counts"] == {"failed": 1, "cancelled": 2}


def _store_snapshot(path: Path) -> tuple[object, ...]:
    with closing(sqlite3.connect(path)) as conn:
        runs = conn.execute("SELECT id, status, attempts_used, ended_at FROM runs ORDER BY id").fetchall()
        backfills = conn.execute("SELECT * FROM backfills ORDER BY id").fetchall()
        events = conn.execute("SELECT count(*) FROM events").fetchone()
    return runs, backfills, events


async def test_retry_failed_is_one_transaction(home: SluiceHome) -> None:
    home.add_job("broken", 'command = "exit 5"\n[partition]\nparam = "day"\nkind = "daily"\n')
    await home.start_scheduler()
    created = await home.cli_json("backfill", "broken", "--from", "2026-07-01", "--to", "2026-07-06")
    detail = await _wait_backfill(home, created["backfill_id"])
    assert detail["status"] == "done" and detail["counts"] == {"failed": 6}
    await home.stop_scheduler()
    fourth = created["run_ids"][3]
    with closing(sqlite3.connect(home.home.db_path)) as conn:
        # A real fault in the middle of the retry: the 4th run's update aborts.
        conn.execute(f"CREATE TRIGGER fault_on_fourth BEFORE UPDATE OF status ON runs"
                     f" WHEN OLD.id = {int(fourth)} AND NEW.status = 'queued'"
                     f" BEGIN SELECT RAISE(ABORT, 'injected fault'); END")
        conn.commit()
    before = _store_snapshot(home.home.db_path)
    async with await home.engine() as engine:
        with pytest.raises(sqlite3.DatabaseError, match="injected fault"):
            await engine.retry_failed_backfill(created["backfill_id"])
    assert _store_snapshot(home.home.db_path) == before, "a failed retry-failed must change nothing"
    with closing(sqlite3.connect(home.home.db_path)) as conn:
        conn.execute("DROP TRIGGER fault_on_fourth")
        conn.commit()
    assert (await home.cli("backfill-retry-failed", str(created["backfill_id"]))).code == 0
    detail = await home.cli_json("backfill-show", str(created["backfill_id"]))
    assert detail["status"] == "active" and detail["counts"] == {"queued": 6}
    assert len((await home.cli_json("events", "--kind", "backfill_retry_failed"))["events"]) == 1


async def test_run_until_idle_returns_only_once_a_finished_backfill_is_marked_done(home: SluiceHome) -> None:
    created = await home.cli_json("backfill", "daily", "--from", "2026-07-01", "--to", "2026-07-02", "-p", "pause=0")
    await home.run_until_idle()
    detail = await home.cli_json("backfill-show", str(created["backfill_id"]))
    assert detail["counts"] == {"succeeded": 2}
    assert detail["status"] == "done", "finishing a backfill is work too: idle comes after it"
