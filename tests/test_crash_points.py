"""The scheduler killed at each named crash point (scheduler/failpoints.py), then restarted: every job ran once
and every log is byte-exact against what the job wrote on the worker.

Each test first sees the crash (exit 137 and the in-between state in the store), then restarts the scheduler
without the crash point and waits for the runs to end. The scheduler is a real subprocess; the workers are
in-process asyncssh nodes (LocalFleet) kept in the test process, or a real OpenSSH sshd."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness import SluiceHome
from reliability import (
    FaultFigures,
    bytes_lost,
    ledger_starts,
    report,
    spawn_scheduler,
    stop_scheduler,
    store_rows,
    wait_all_ended,
)
from sshd import OpenSSHServer

from console.demo.localnode import LocalFleet
from scheduler.failpoints import CRASH_STATUS

RUNS = 6
LINES = 6


def _job(ledger: Path) -> str:
    # The ledger line is the job's first act, so a second start is counted even if it is killed at once.
    return f"""
command = '''echo "$SLUICE_RUN_ID" >> {ledger}; i=0; while [ $i -lt {LINES} ]; do i=$((i + 1)); echo "{{tag}} out $i"; echo "{{tag}} err $i" >&2; sleep {{pause}}; done'''
[params]
tag = "x"
pause = "0.05"
"""


def _expected(tag: str, stream: str) -> bytes:
    word = "out" if stream == "stdout" else "err"
    return b"".join(f"{tag} {word} {i}\n".encode() for i in range(1, LINES + 1))


@dataclass
class Crash:
    """One crash-point scenario: where to die, how slow the jobs are, and the in-between state to see."""

    name: str
    pause: str
    fault: str
    check: Callable[[SluiceHome], str]


def _starting_never_launched(home: SluiceHome) -> str:
    rows = store_rows(home, "SELECT a.status, a.remote_dir, r.status AS run_status FROM attempts a "
                            "JOIN runs r ON r.id = a.run_id")
    starting = [row for row in rows if row["status"] == "starting"]
    assert starting, "the crash came after a dispatch commit: some attempt must be starting"
    assert all(row["run_status"] == "running" for row in starting)
    assert not any(Path(row["remote_dir"]).exists() for row in starting), "a launch was sent before the crash"
    return f"{len(starting)} attempt(s) starting in the store, no attempt folder on the worker"


def _bytes_past_offsets(home: SluiceHome) -> str:
    rows = store_rows(home, "SELECT run_id, number, stdout_offset, stderr_offset FROM attempts")
    past = 0
    for row in rows:
        for stream in ("stdout", "stderr"):
            path = home.home.logs_dir / str(row["run_id"]) / str(row["number"]) / stream
            size = path.stat().st_size if path.exists() else 0
            assert size >= row[f"{stream}_offset"]
            past += size - row[f"{stream}_offset"]
    assert past > 0, "the crash came after a log append: the log store must hold bytes past the offsets"
    return f"{past} byte(s) in the log store past the committed offsets"


def _exit_not_committed(home: SluiceHome) -> str:
    rows = store_rows(home, "SELECT status, remote_dir FROM attempts")
    exited = [row for row in rows if row["status"] == "running" and (Path(row["remote_dir"]) / "exit").exists()]
    assert exited, "the crash came after an exit code was read: an attempt must be running with an exit file"
    assert not any(row["status"] in ("succeeded", "failed") for row in rows)
    return f"{len(exited)} attempt(s) exited on the worker, still running in the store"


DISPATCH = Crash("dispatch_committed", "0.05", "crash after the dispatch commit, before the launch",
                 _starting_never_launched)
def _launched_not_recorded(home: SluiceHome) -> str:
    rows = store_rows(home, "SELECT status, remote_dir FROM attempts")
    sent = [row for row in rows if row["status"] == "starting" and (Path(row["remote_dir"]) / "pid").exists()]
    assert sent, "the crash came after a launch was answered: an attempt must be starting with a job on the worker"
    return f"{len(sent)} attempt(s) started on the worker, still starting in the store"


LAUNCHED = Crash("launch_answered", "0.5", "crash after the launch reached the worker, before its answer commits",
                 _launched_not_recorded)
LOG = Crash("log_appended", "0.3", "crash after a log append, before its offset commit", _bytes_past_offsets)
EXIT = Crash("exit_read", "0.05", "crash after the exit code is read, before its commit", _exit_not_committed)


async def _crash_and_recover(tmp_path: Path, home: SluiceHome, crash: Crash, workers: str) -> None:
    ledger = tmp_path / "ledger.txt"
    home.add_job("ledgered", _job(ledger))
    params = tmp_path / "runs.jsonl"
    params.write_text("".join(json.dumps({"tag": f"t{i}", "pause": crash.pause}) + "\n" for i in range(RUNS)))
    run_ids = (await home.cli_json("submit", "ledgered", "--params-file", str(params)))["run_ids"]
    log = tmp_path / "scheduler.log"

    first = await spawn_scheduler(home, log, crash_at=crash.name)
    try:
        code = await asyncio.wait_for(first.wait(), 60)
    finally:
        if first.returncode is None:
            await stop_scheduler(first)
    assert code == CRASH_STATUS, f"exit {code}, not the crash point's: {log.read_text()[-2000:]}"
    assert f"crash point {crash.name} reached" in log.read_text()
    seen = crash.check(home)

    second = await spawn_scheduler(home, log)
    try:
        recover = await wait_all_ended(home, run_ids, timeout=90)
    finally:
        await stop_scheduler(second)
    _assert_once_and_exact(home, run_ids, ledger, crash, workers, seen, recover)


def _assert_once_and_exact(home: SluiceHome, run_ids: list[int], ledger: Path, crash: Crash, workers: str,
                           seen: str, recover: float) -> None:
    runs = {row["id"]: row for row in store_rows(home, "SELECT id, status, params FROM runs")}
    attempts = store_rows(home, "SELECT run_id, number, remote_dir FROM attempts ORDER BY run_id")
    starts = ledger_starts(ledger)
    lost = sum(1 for run_id in run_ids if runs[run_id]["status"] != "succeeded" or starts[run_id] == 0)
    duplicated = sum(count - 1 for count in starts.values() if count > 1)
    missing = 0
    mismatched = []
    for attempt in attempts:
        tag = json.loads(runs[attempt["run_id"]]["params"])["tag"]
        for stream in ("stdout", "stderr"):
            on_worker = (Path(attempt["remote_dir"]) / stream).read_bytes()
            stored = (home.home.logs_dir / str(attempt["run_id"]) / str(attempt["number"]) / stream).read_bytes()
            missing += bytes_lost(stored, on_worker)
            if stored != on_worker or on_worker != _expected(tag, stream):
                mismatched.append((attempt["run_id"], stream, len(stored), len(on_worker)))
    report(FaultFigures(crash.fault + f" ({workers})", f"SLUICE_CRASH_AT={crash.name}", len(run_ids), lost,
                        duplicated, missing, round(recover, 2), "tests/test_crash_points.py", seen))
    assert [runs[run_id]["status"] for run_id in run_ids] == ["succeeded"] * len(run_ids), seen
    assert sorted(starts.elements()) == sorted(run_ids), f"a job started twice or never: {starts} ({seen})"
    assert [a["run_id"] for a in attempts] == sorted(run_ids), "one attempt per run: none redone"
    assert not mismatched, f"logs not byte-exact (run, stream, bastion bytes, worker bytes): {mismatched}"


async def _with_fleet(tmp_path: Path, crash: Crash) -> SluiceHome:
    async with LocalFleet(tmp_path / "keys") as fleet:
        for name in ("n1", "n2"):
            await fleet.start_node(name)
        home = SluiceHome(tmp_path, fleet.nodes_toml(slots=4, workdir=str(tmp_path / "workers")))
        await _crash_and_recover(tmp_path, home, crash, "in-process asyncssh workers")
    return home


async def test_crash_after_dispatch_commit_relaunches_once(tmp_path: Path) -> None:
    await _with_fleet(tmp_path, DISPATCH)


async def test_crash_after_the_launch_answered_reattaches_to_the_running_job(tmp_path: Path) -> None:
    home = await _with_fleet(tmp_path, LAUNCHED)
    rows = store_rows(home, "SELECT detail FROM events WHERE kind = 'attempt_started'")
    assert any("re-attached" in row["detail"] for row in rows), "the restart found the launch already there"
    [run_id] = [row["run_id"] for row in store_rows(
        home, "SELECT run_id FROM events WHERE kind = 'attempt_started' AND detail LIKE '%re-attached%' LIMIT 1")]
    steps = [(e["action"], e["outcome"]) for e in (await home.cli_json("activity", str(run_id)))["activity"]]
    assert steps[:3] == [("launch", "sent"), ("launch", "sent again"), ("launch", "started")], steps


async def test_crash_after_log_append_writes_the_bytes_again_once(tmp_path: Path) -> None:
    await _with_fleet(tmp_path, LOG)


async def test_crash_after_exit_read_ends_the_attempt_once(tmp_path: Path) -> None:
    await _with_fleet(tmp_path, EXIT)


async def test_crash_after_dispatch_commit_over_openssh(tmp_path: Path,
                                                        make_openssh_server: Callable[..., OpenSSHServer]) -> None:
    server = make_openssh_server("sshd-node")
    home = SluiceHome(tmp_path, server.node_toml("s1", slots=4, workdir=str(tmp_path / "workers")))
    await _crash_and_recover(tmp_path, home, DISPATCH, "real OpenSSH sshd")
