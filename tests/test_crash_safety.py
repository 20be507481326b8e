"""A scheduler killed with SIGKILL at random moments loses nothing and runs nothing twice."""

from __future__ import annotations

import asyncio
import random
import signal
import sqlite3
import sys
import time
from pathlib import Path

from harness import SluiceHome
from reliability import FaultFigures, bytes_lost, ledger_starts, report

from console.demo.localnode import LocalFleet

RUNS = 24


def _expected(run_index: str) -> bytes:
    return b"".join(f"{run_index} line {i}\n".encode() for i in range(1, 9))


async def _spawn_scheduler(home: SluiceHome, log: Path) -> asyncio.subprocess.Process:
    with open(log, "ab") as handle:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "console.main", "scheduler", "--home", str(home.home.root), "--poll-interval", "0.1",
            stdout=asyncio.subprocess.DEVNULL, stderr=handle)


async def test_sigkilled_scheduler_runs_every_job_exactly_once(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.txt"
    async with LocalFleet(tmp_path / "keys") as fleet:
        for name in ("n1", "n2"):
            await fleet.start_node(name)
        home = SluiceHome(tmp_path, fleet.nodes_toml(slots=4, workdir=str(tmp_path / "workers")))
        home.add_job("ledger", f"""
command = '''echo "$SLUICE_RUN_ID" >> {ledger}; i=0; while [ $i -lt 8 ]; do i=$((i + 1)); echo "{{tag}} line $i"; sleep {{pause}}; done'''
[params]
tag = "x"
pause = "0.1"
""")
        lines = tmp_path / "runs.jsonl"
        rng = random.Random(7)
        lines.write_text("".join(f'{{"tag": "t{i}", "pause": "{rng.choice(["0.05", "0.1", "0.3"])}"}}\n'
                                 for i in range(RUNS)))
        run_ids = (await home.cli_json("submit", "ledger", "--params-file", str(lines)))["run_ids"]
        log = tmp_path / "scheduler.log"
        for _kill in range(5):
            process = await _spawn_scheduler(home, log)
            await asyncio.sleep(rng.uniform(1.2, 2.5))
            process.send_signal(signal.SIGKILL)
            await process.wait()
        process = await _spawn_scheduler(home, log)
        restarted = time.monotonic()
        try:
            results = [await home.wait_ended(run_id, timeout=90) for run_id in run_ids]
        finally:
            process.send_signal(signal.SIGTERM)
            await process.wait()
        recover = time.monotonic() - restarted
    logs = [(await home.cli("logs", str(run_id))).stdout for run_id in run_ids]
    starts = ledger_starts(ledger)
    report(FaultFigures("SIGKILL storm: scheduler killed 5 times at random moments", "SIGKILL after 1.2-2.5 s, x5",
                        RUNS, sum(1 for r in results if r["status"] != "succeeded"),
                        sum(count - 1 for count in starts.values() if count > 1),
                        sum(bytes_lost(stored, _expected(f"t{i}")) for i, stored in enumerate(logs)),
                        round(recover, 2), "tests/test_crash_safety.py", "recovery counted from the last restart"))
    assert all(run["status"] == "succeeded" for run in results), [r["status"] for r in results]
    executed = ledger.read_text().split()
    assert sorted(executed, key=int) == [str(run_id) for run_id in run_ids], "a job ran twice or never"
    for index, stored in enumerate(logs):
        assert stored == _expected(f"t{index}")
    with sqlite3.connect(home.home.db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        illegal = conn.execute(
            "SELECT count(*) FROM runs r WHERE status = 'succeeded' AND NOT EXISTS "
            "(SELECT 1 FROM events e WHERE e.run_id = r.id AND e.new_status = 'succeeded')").fetchone()[0]
        assert illegal == 0, "every final state has its event"
    conn.close()
