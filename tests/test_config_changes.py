"""Editing nodes.toml never orphans a run: a node removed or renamed while it runs a job is watched, with the
settings it had, until its attempts end; it takes no new work, and cancel still reaches its job."""

from __future__ import annotations

import re
import time
from pathlib import Path

from harness import FAST, SluiceHome
from reliability import FaultFigures, report, store_vs_worker_bytes

from console.demo.localnode import LocalFleet
from scheduler.home import write_private


async def test_a_node_renamed_while_it_runs_a_job_still_sees_that_job_to_its_end(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    async with LocalFleet(tmp_path / "keys") as fleet:
        await fleet.start_node("n1")
        nodes_toml = fleet.nodes_toml(slots=2, workdir=str(tmp_path / "workers"))
        home = SluiceHome(tmp_path, nodes_toml)
        home.add_job("steady", f"command = 'echo start >> {ledger}; sleep 3; echo done'\n")
        await home.start_scheduler(FAST)
        try:
            run_id = await home.submit("steady")
            await home.wait_for(run_id, {"running"})
        finally:
            await home.stop_scheduler()
        write_private(home.home.nodes_file, re.sub(r'name = "n1"', 'name = "n1-renamed"', nodes_toml))
        restarted_at = time.monotonic()
        await home.start_scheduler(FAST)
        try:
            final = await home.wait_ended(run_id, timeout=30)
            recover = time.monotonic() - restarted_at
            second = await home.submit("steady")
            second_final = await home.wait_ended(second, timeout=30)
        finally:
            await home.stop_scheduler()
        events = (await home.cli_json("events", "--kind", "node_retired"))["events"]
    starts = ledger.read_text().split().count("start") if ledger.exists() else 0
    ended_ok = [final["status"], second_final["status"]].count("succeeded")
    report(FaultFigures(
        "node renamed in nodes.toml while it runs a job", "scheduler stopped, n1 renamed n1-renamed, scheduler "
        "restarted; a second run submitted afterwards", 2, 2 - ended_ok, max(0, starts - 2),
        store_vs_worker_bytes(home), round(recover, 2), "tests/test_config_changes.py",
        f"the running attempt watched on the retired name {final['node']} (attempt {final['attempt']}); the new "
        f"run went to {second_final['node']}; {len(events)} node_retired event(s); duplicated = ledger starts "
        f"({starts}) beyond one per run; recovery from the restart until the first run ended"))
    assert final["status"] == "succeeded" and final["node"] == "n1" and final["attempt"] == 1
    assert second_final["status"] == "succeeded" and second_final["node"] == "n1-renamed", \
        "new work goes to the node's new name, never to the retired one"
    assert ledger.read_text().splitlines() == ["start", "start"], "each run's job started exactly once"
    assert events and "n1" in events[0]["detail"] and "no new work" in events[0]["detail"]


async def test_a_removed_nodes_running_job_can_still_be_cancelled(tmp_path: Path) -> None:
    async with LocalFleet(tmp_path / "keys") as fleet:
        await fleet.start_node("n1")
        await fleet.start_node("n2")
        both = fleet.nodes_toml(slots=1, workdir=str(tmp_path / "workers"))
        home = SluiceHome(tmp_path, both)
        ledger = tmp_path / "ledger"
        home.add_job("long", f"command = 'echo start >> {ledger}; sleep 120'\nkill_grace = '2s'\n")
        await home.start_scheduler(FAST)
        try:
            run_id = await home.submit("long")
            running = await home.wait_for(run_id, {"running"})
        finally:
            await home.stop_scheduler()
        busy = running["node"]
        kept = [table for table in both.split("[[node]]") if table.strip() and f'name = "{busy}"' not in table]
        write_private(home.home.nodes_file, "".join(f"[[node]]{table}" for table in kept))
        restarted_at = time.monotonic()
        await home.start_scheduler(FAST)
        try:
            assert (await home.cli("cancel", str(run_id))).code == 0
            final = await home.wait_ended(run_id, timeout=30)
            recover = time.monotonic() - restarted_at
        finally:
            await home.stop_scheduler()
    starts = ledger.read_text().split().count("start") if ledger.exists() else 0
    report(FaultFigures(
        "node removed from nodes.toml while it runs a job", "scheduler stopped, the busy node's table deleted, "
        "scheduler restarted, then `sluice cancel` of the run (kill_grace 2 s)", 1,
        int(final["status"] != "cancelled" or starts == 0), max(0, starts - 1), store_vs_worker_bytes(home),
        round(recover, 2), "tests/test_config_changes.py",
        f"lost counts a run not ending cancelled; attempts in the end: "
        f"{[attempt['status'] for attempt in final['attempts']]}; recovery from the restart until the run ended"))
    assert final["status"] == "cancelled"
    assert [attempt["status"] for attempt in final["attempts"]] == ["cancelled"], "never a second copy"
