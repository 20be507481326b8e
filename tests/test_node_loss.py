"""A worker that goes away: its attempts end as node_lost, runs go elsewhere, and a returning node is fenced."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from harness import FAST, SluiceHome
from reliability import FaultFigures, report, store_vs_worker_bytes

from console.demo.localnode import LocalFleet
from scheduler.models import Attempt


async def test_lost_node_runs_move_elsewhere_and_the_stale_attempt_is_fenced(tmp_path: Path) -> None:
    side_effects = tmp_path / "side_effects.txt"
    async with LocalFleet(tmp_path / "keys", keepalive_interval=0.5) as fleet:
        await fleet.start_node("n1")
        await fleet.start_node("n2")
        home = SluiceHome(tmp_path, fleet.nodes_toml(slots=1, workdir=str(tmp_path / "workers")))
        # The first attempt writes until it is fenced (or for 2 minutes): only the fence can stop its lines.
        home.add_job("ticker", f"""
command = '''i=0; while [ $i -lt 40 ] || {{ [ "$SLUICE_ATTEMPT" = 1 ] && [ $i -lt 1200 ]; }}; do i=$((i + 1)); echo "$SLUICE_ATTEMPT $i" >> {side_effects}; sleep 0.1; done'''
[retry]
max_attempts = 1
""")
        await home.start_scheduler(replace(FAST, node_lost_after=1.5))
        try:
            run_id = await home.submit("ticker")
            first = await home.wait_for(run_id, {"running"})
            lost_node = first["node"]
            await asyncio.sleep(0.3)
            await fleet.stop_node(lost_node)  # the worker disappears; its detached job keeps running
            run = await home.wait_for(run_id, {"running"}, timeout=1)  # still running: not yet given up
            for _ in range(100):
                run = await home.run_json(run_id)
                if run["attempt"] == 2:
                    break
                await asyncio.sleep(0.1)
            assert run["attempts"][0]["status"] == "lost" and run["attempts"][0]["reason"] == "node_lost"
            assert run["attempts"][1]["node"] != lost_node
            nodes = {n["name"]: n for n in (await home.cli_json("nodes"))["nodes"]}
            assert nodes[lost_node]["state"] == "down" and nodes[lost_node]["last_error"]
            await fleet.start_node(lost_node)  # it comes back with the stale attempt still running
            back_at = time.monotonic()
            for _ in range(100):
                events = (await home.cli_json("events", "--kind", "fenced"))["events"]
                if events:
                    break
                await asyncio.sleep(0.1)
            fenced_after = time.monotonic() - back_at
            assert events and events[0]["run_id"] == run_id
            await asyncio.sleep(0.5)
            stale_lines = [line for line in side_effects.read_text().splitlines() if line.startswith("1 ")]
            await asyncio.sleep(0.5)
            assert [line for line in side_effects.read_text().splitlines() if line.startswith("1 ")] == stale_lines, \
                "the fenced attempt must stop its side effects"
            final = await home.wait_ended(run_id, timeout=30)
            recover = time.monotonic() - back_at
        finally:
            await home.stop_scheduler()
    lines = side_effects.read_text().splitlines()
    assert [line for line in lines if line.startswith("1 ")] == stale_lines, "the fenced attempt stays stopped"
    by_attempt = {number: sum(1 for line in lines if line.split()[0] == number) for number in ("1", "2")}
    report(FaultFigures(
        "worker lost past its lease, then back with the stale attempt running", "the in-process sshd of the busy "
        "node stopped (its detached job runs on), node_lost_after 1.5 s; the node started again after the second "
        "attempt was dispatched elsewhere", 1, int(final["status"] != "succeeded"),
        sum(1 for count in by_attempt.values() if count) - 1, store_vs_worker_bytes(home), round(recover, 2),
        "tests/test_node_loss.py",
        f"duplicated is the start the lease allows: attempt 2 on another node after attempt 1 was given up "
        f"(the job has no start ledger; counted from its side-effect lines per attempt: {by_attempt}); fenced "
        f"event {fenced_after:.1f} s after the node came back; recovery from the node's return until the run ended"))
    assert final["status"] == "succeeded"
    assert final["attempt"] == 2, "a lost node does not use up the job's only attempt"


async def test_a_vanished_attempt_is_dispatched_again_without_a_fenced_event(tmp_path: Path) -> None:
    async with LocalFleet(tmp_path / "keys") as fleet:
        await fleet.start_node("n1")
        home = SluiceHome(tmp_path, fleet.nodes_toml(slots=2, workdir=str(tmp_path / "workers")))
        home.add_job("once", """
command = '''if [ "$SLUICE_ATTEMPT" -eq 1 ]; then sleep 60; fi; echo done'''
""")
        home.add_job("quiet", "command = 'true'\n")
        await home.start_scheduler()
        try:
            run_id = await home.submit("once")
            await home.wait_for(run_id, {"running"})
            async with await home.engine() as engine:
                async def started() -> Attempt | None:
                    attempt = await engine.attempt(run_id)
                    return attempt if attempt is not None and attempt.status == "running" else None

                attempt = await _until(started)
            pid, _, supervisor, _ = (Path(attempt.remote_dir) / "pid").read_text().split()
            # The worker answers but the job is gone with no exit code: supervisor first, then the job's group.
            os.kill(int(supervisor), signal.SIGKILL)
            os.killpg(int(pid), signal.SIGKILL)
            run = await home.wait_ended(run_id, timeout=30)
            # A few more passes after the end, in which a wrong fence would have been sent and recorded.
            for _ in range(2):
                assert (await home.wait_ended(await home.submit("quiet")))["status"] == "succeeded"
            fenced = (await home.cli_json("events", "--kind", "fenced"))["events"]
        finally:
            await home.stop_scheduler()
    assert run["status"] == "succeeded"
    assert [(a["status"], a["reason"]) for a in run["attempts"]] == [("lost", "vanished"), ("succeeded", "exit")]
    assert fenced == [], "only attempts given up on a silent node are fenced, never one whose job vanished"


async def _until(check: Callable[[], Awaitable[Attempt | None]], timeout: float = 20) -> Attempt:
    deadline = time.monotonic() + timeout
    while (found := await check()) is None:
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)
    return found
