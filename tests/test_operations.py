"""Operator workflows through the CLI: drain deadlines, worker cleanup, following logs, waiting, bulk submit, init."""

from __future__ import annotations

import asyncio
import json
import stat
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from harness import FAST, SluiceHome

from scheduler.localnode import LocalFleet


@pytest.fixture
async def home(tmp_path: Path) -> AsyncIterator[SluiceHome]:
    async with LocalFleet(tmp_path / "keys") as fleet:
        await fleet.start_node("n1")
        await fleet.start_node("n2")
        sluice = SluiceHome(tmp_path, fleet.nodes_toml(slots=2, workdir=str(tmp_path / "workers")))
        try:
            yield sluice
        finally:
            await sluice.stop_scheduler()


async def test_drain_deadline_preempts_and_the_run_resumes_elsewhere(home: SluiceHome) -> None:
    home.add_job("long", """
command = '''
i=${SLUICE_CHECKPOINT:-0}
trap 'echo "::checkpoint::$i"; exit 143' TERM
while [ $i -lt 30 ]; do i=$((i + 1)); echo "::checkpoint::$i"; sleep 0.1; done
echo "finished on attempt $SLUICE_ATTEMPT"
'''
kill_grace = "5s"
labels = []
""")
    await home.start_scheduler()
    run_id = await home.submit("long")
    first = await home.wait_for(run_id, {"running"})
    await asyncio.sleep(0.5)
    node = first["node"]
    assert (await home.cli("drain", node, "--deadline", "0.2s", "--reason", "reboot")).code == 0
    run = await home.wait_ended(run_id)
    assert run["status"] == "succeeded"
    preempted, resumed = run["attempts"]
    assert (preempted["status"], preempted["reason"], preempted["node"]) == ("preempted", "preempted", node)
    assert resumed["node"] != node and int(resumed["checkpoint_in"]) >= 3
    assert run["attempt"] == 2
    assert (await home.cli("drain", "nope")).code == 2


async def test_finished_attempt_folders_are_removed_after_retention(home: SluiceHome) -> None:
    home.add_job("quick", 'command = "echo hi"\n')
    await home.start_scheduler(replace(FAST, retention=0.0, cleanup_interval=0.2))
    run_id = await home.submit("quick")
    await home.wait_ended(run_id)
    for _ in range(50):
        if not list((home.root / "workers").rglob("job.sh")):
            break
        await asyncio.sleep(0.1)
    assert not list((home.root / "workers").rglob("job.sh"))
    assert (await home.cli("logs", str(run_id))).stdout == b"hi\n", "the bastion keeps the log"


async def test_logs_follow_streams_until_the_attempt_ends(home: SluiceHome) -> None:
    home.add_job("ticker", '''command = "for i in 1 2 3 4 5; do echo tick $i; sleep 0.3; done"\n''')
    await home.start_scheduler()
    run_id = await home.submit("ticker")
    await home.wait_for(run_id, {"running"})
    followed = await home.cli("logs", str(run_id), "-f", timeout=30)
    assert followed.code == 0
    assert followed.text == "".join(f"tick {i}\n" for i in range(1, 6))


async def test_wait_exits_3_on_timeout_and_0_when_all_succeeded(home: SluiceHome) -> None:
    home.add_job("nap", 'command = "sleep {seconds}"\n[params]\nseconds = "0"\n')
    await home.start_scheduler()
    slow = await home.submit("nap", "seconds=5")
    quick = await home.submit("nap")
    assert (await home.cli("wait", str(slow), "--timeout", "0.5")).code == 3
    await home.cli("cancel", str(slow))
    assert (await home.cli("wait", str(quick), "--timeout", "20")).code == 0
    assert (await home.cli("wait", str(quick), str(slow), "--timeout", "20")).code == 1


async def test_params_file_submits_all_lines_in_one_transaction(home: SluiceHome) -> None:
    home.add_job("per_region", 'command = "echo {region}"\n[params]\nregion = "x"\n')
    lines = home.root / "regions.jsonl"
    lines.write_text("\n".join(json.dumps({"region": f"r{i}"}) for i in range(500)) + "\n")
    result = await home.cli_json("submit", "per_region", "--params-file", str(lines))
    assert len(result["run_ids"]) == 500
    bad = home.root / "bad.jsonl"
    bad.write_text('{"region": "ok"}\n{"regoin": "typo"}\n')
    failed = await home.cli("submit", "per_region", "--params-file", str(bad))
    assert failed.code == 2 and "line 2" in failed.stderr and "regoin" in failed.stderr
    assert len((await home.cli_json("runs", "--limit", "1000"))["runs"]) == 500


async def test_init_creates_a_private_home_with_examples(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "console.cli", "init", "--home", str(fresh),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    assert process.returncode == 0, err
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
    assert stat.S_IMODE((fresh / "nodes.toml").stat().st_mode) == 0o600
    assert stat.S_IMODE((fresh / "jobs").stat().st_mode) == 0o700
    assert (fresh / "jobs" / "etl_extract.toml").exists()
    jobs = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "console.cli", "jobs", "--json", "--home", str(fresh),
        stdout=asyncio.subprocess.PIPE)
    listed = json.loads((await jobs.communicate())[0])
    assert {"etl_extract", "etl_transform", "etl_load", "long_export"} <= {j["name"] for j in listed["jobs"]}
    assert stat.S_IMODE((fresh / "sluice.db").stat().st_mode) == 0o600
