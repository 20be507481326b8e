"""Checkpoints and progress over SSH: a retry resumes where the job stopped and never redoes finished steps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cluster import cluster  # noqa: F401  (fixture)
from harness import SluiceHome

from console.demo.localnode import LocalFleet


@pytest.fixture
async def fleet_home(tmp_path: Path) -> AsyncIterator[SluiceHome]:
    """Two in-process SSH nodes with 2 slots each, and a started scheduler."""
    async with LocalFleet(tmp_path / "keys") as fleet:
        await fleet.start_node("n1")
        await fleet.start_node("n2")
        home = SluiceHome(tmp_path, fleet.nodes_toml(slots=2, workdir=str(tmp_path / "workers")))
        try:
            yield home
        finally:
            await home.stop_scheduler()


def stepping_job(steps_file: Path, fail_at: int | None, total: int = 8) -> str:
    fail = f'if [ $i -eq {fail_at} ] && [ "$SLUICE_ATTEMPT" -eq 1 ]; then echo "boom at $i" >&2; exit 1; fi' \
        if fail_at else ""
    return f"""
command = '''
i=${{SLUICE_CHECKPOINT:-0}}
while [ $i -lt {total} ]; do
  i=$((i + 1))
  echo "step $i (attempt $SLUICE_ATTEMPT)" >> {steps_file}
  echo "::progress::$i/{total} working"
  echo "::checkpoint::$i"
  {fail}
done
'''
[retry]
max_attempts = 2
backoff = "0.2s"
"""


async def test_retry_resumes_after_the_last_checkpoint(cluster: SluiceHome) -> None:  # noqa: F811
    steps = cluster.root / "steps.txt"
    cluster.add_job("stepper", stepping_job(steps, fail_at=5))
    await cluster.start_scheduler()
    run_id = await cluster.submit("stepper")
    run = await cluster.wait_ended(run_id)
    assert run["status"] == "succeeded"
    assert steps.read_text().splitlines() == [f"step {i} (attempt 1)" for i in range(1, 6)] + \
        [f"step {i} (attempt 2)" for i in range(6, 9)]
    first, second = run["attempts"]
    assert (first["status"], first["checkpoint_in"]) == ("failed", None)
    assert second["checkpoint_in"] == "5"
    assert second["progress"]["done"] == 8 and second["progress"]["total"] == 8
    assert [c["value"] for c in run["checkpoints"]] == [str(i) for i in range(1, 9)]
    shown = (await cluster.cli("show", str(run_id))).text
    assert "checkpoints:" in shown and "attempt 2  8" in shown
    log = (await cluster.cli("logs", str(run_id), "--attempt", "1")).text
    assert "::checkpoint::5\n" in log, "marker lines stay in the log as printed"


async def test_retry_from_scratch_ignores_checkpoints(fleet_home: SluiceHome) -> None:
    steps = fleet_home.root / "steps.txt"
    fleet_home.add_job("stepper", stepping_job(steps, fail_at=None, total=3))
    await fleet_home.start_scheduler()
    run_id = await fleet_home.submit("stepper")
    assert (await fleet_home.wait_ended(run_id))["status"] == "succeeded"
    assert (await fleet_home.cli("retry", str(run_id), "--from-scratch", "--force")).code == 0
    await fleet_home.wait_for(run_id, {"succeeded"})
    run = await fleet_home.wait_ended(run_id)
    assert run["attempts"][1]["checkpoint_in"] is None
    assert steps.read_text().count("step 1 ") == 2
    # A plain retry afterwards resumes from the from-scratch attempt's own checkpoint.
    assert (await fleet_home.cli("retry", str(run_id), "--force")).code == 0  # queued when it returns: not ended
    run = await fleet_home.wait_ended(run_id)
    assert run["attempts"][-1]["checkpoint_in"] == "3"


async def test_checkpoint_exit_code_requeues_without_using_an_attempt(fleet_home: SluiceHome) -> None:
    fleet_home.add_job("yielder", """
command = '''
if [ -z "${SLUICE_CHECKPOINT:-}" ]; then echo "::checkpoint::half"; exit 85; fi
echo "resumed from $SLUICE_CHECKPOINT"
'''
""")
    await fleet_home.start_scheduler()
    run_id = await fleet_home.submit("yielder")
    run = await fleet_home.wait_ended(run_id)
    assert run["status"] == "succeeded"  # with max_attempts = 1: the yield did not use the only attempt
    assert [a["reason"] for a in run["attempts"]] == ["checkpoint_yield", "exit"]
    assert (await fleet_home.cli("logs", str(run_id))).text == "resumed from half\n"


async def test_kill_grace_lets_a_job_write_a_last_checkpoint(fleet_home: SluiceHome) -> None:
    fleet_home.add_job("graceful", """
command = '''
trap 'echo "::checkpoint::saved with grace $SLUICE_KILL_GRACE"; exit 143' TERM
echo started
while true; do sleep 0.1; done
'''
kill_grace = "5s"
""")
    await fleet_home.start_scheduler()
    run_id = await fleet_home.submit("graceful")
    await fleet_home.wait_for(run_id, {"running"})
    async with await fleet_home.engine() as engine:  # "started" is echoed once the TERM trap is set
        deadline = time.monotonic() + 30
        while engine.read_log(run_id, 1, "stdout") != b"started\n":
            assert time.monotonic() < deadline, "the job did not start within 30s"
            await asyncio.sleep(0.05)
    assert (await fleet_home.cli("cancel", str(run_id))).code == 0
    run = await fleet_home.wait_ended(run_id)
    assert run["status"] == "cancelled"
    assert [c["value"] for c in run["checkpoints"]] == ["saved with grace 5"]
    assert not any("KILL" in (e["detail"] or "") for e in run["events"]), "TERM was enough; no KILL needed"


async def test_marker_split_across_reads_is_counted_once(fleet_home: SluiceHome) -> None:
    fleet_home.add_job("slow_marker", """
command = '''printf '::check'; sleep 0.6; printf 'point::{"n": 1}\\n'; sleep 0.4; printf '::progress::1/2'; sleep 0.5; printf ' half\\n'; echo done'''
""")
    await fleet_home.start_scheduler()
    run_id = await fleet_home.submit("slow_marker")
    run = await fleet_home.wait_ended(run_id)
    assert [c["value"] for c in run["checkpoints"]] == ['{"n": 1}']
    assert run["attempts"][0]["progress"]["message"] == "half"
