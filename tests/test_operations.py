"""Operator workflows through the CLI: drain deadlines, worker cleanup, following logs, waiting, bulk submit, init."""

from __future__ import annotations

import asyncio
import json
import stat
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from harness import FAST, SluiceHome

from console.demo.localnode import LocalFleet


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
    gate = home.root / "gate"
    # Three checkpoints, then the job waits at a gate the test opens only once the drain has preempted it:
    # the first attempt can end only by the drain's deadline, whatever the load.
    home.add_job("long", f"""
command = '''
i=${{SLUICE_CHECKPOINT:-0}}
trap 'echo "::checkpoint::$i"; exit 143' TERM
while [ $i -lt 3 ]; do i=$((i + 1)); echo "::checkpoint::$i"; sleep 0.1; done
n=0; until [ -e {gate} ]; do n=$((n + 1)); if [ $n -gt 2400 ]; then exit 1; fi; sleep 0.05; done
echo "finished on attempt $SLUICE_ATTEMPT"
'''
kill_grace = "5s"
labels = []
""")
    await home.start_scheduler()
    run_id = await home.submit("long")
    first = await home.wait_for(run_id, {"running"})
    node = first["node"]
    await _until_run(home, run_id, lambda run: any(c["value"] == "3" for c in run["checkpoints"]),
                     "the first attempt's third checkpoint")
    assert (await home.cli("drain", node, "--deadline", "0.2s", "--reason", "reboot")).code == 0
    await _until_run(home, run_id, lambda run: run["attempts"][0]["status"] != "running", "the drain's preemption")
    gate.touch()
    run = await home.wait_ended(run_id)
    assert run["status"] == "succeeded"
    preempted, resumed = run["attempts"]
    assert (preempted["status"], preempted["reason"], preempted["node"]) == ("preempted", "preempted", node)
    assert resumed["node"] != node and int(resumed["checkpoint_in"]) >= 3
    assert run["attempt"] == 2
    assert (await home.cli("drain", "nope")).code == 2


async def _until_run(home: SluiceHome, run_id: int, condition: Callable[[dict[str, Any]], bool], what: str,
                     timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition(run := await home.run_json(run_id)):
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g}s: {run}"
        await asyncio.sleep(0.05)


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


def gated(gate: Path) -> str:
    """A job file's command that ends only once `gate` exists (or fails, giving up after a generous 120 s)."""
    return (f"command = '''n=0; until [ -e {gate} ]; do n=$((n + 1)); "
            "if [ $n -gt 2400 ]; then exit 1; fi; sleep 0.05; done'''\n")


async def test_wait_exits_3_on_timeout_and_0_when_all_succeeded(home: SluiceHome) -> None:
    gate = home.root / "gate"
    home.add_job("gated", gated(gate))
    home.add_job("stuck", gated(home.root / "never"))
    home.add_job("nap", 'command = "sleep {seconds}"\n[params]\nseconds = "0"\n')
    await home.start_scheduler()
    slow = await home.submit("gated")
    doomed = await home.submit("stuck")
    quick = await home.submit("nap")
    assert (await home.cli("wait", str(slow), "--timeout", "0.5")).code == 3, "slow cannot end: its gate is shut"
    await home.cli("cancel", str(doomed))
    assert (await home.cli("wait", str(quick), "--timeout", "20")).code == 0
    assert (await home.cli("wait", str(quick), str(doomed), "--timeout", "20")).code == 1
    gate.touch()  # only now may slow end
    assert (await home.cli("wait", str(quick), str(slow), "--timeout", "20")).code == 0


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
        sys.executable, "-m", "console.main", "init", "--home", str(fresh),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    assert process.returncode == 0, err
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
    assert stat.S_IMODE((fresh / "nodes.toml").stat().st_mode) == 0o600
    assert stat.S_IMODE((fresh / "jobs").stat().st_mode) == 0o700
    assert (fresh / "jobs" / "etl_extract.toml").exists()
    jobs = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "console.main", "jobs", "--json", "--home", str(fresh),
        stdout=asyncio.subprocess.PIPE)
    listed = json.loads((await jobs.communicate())[0])
    assert {"etl_extract", "etl_transform", "etl_load", "long_export"} <= {j["name"] for j in listed["jobs"]}
    assert stat.S_IMODE((fresh / "sluice.db").stat().st_mode) == 0o600
