"""Failure paths: cancels that race outages, cut scripts, broken nodes, held backfills, hostile paths."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest
from harness import FAST, SluiceHome

from console.demo.localnode import LocalFleet
from scheduler.config import NodeConfig
from scheduler.executor import ProbeRequest, TargetUnavailable
from scheduler.ssh.executor import LAUNCH_SCRIPT, PROBE_SCRIPT, SshExecutor, parse_probe_output


@pytest.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[LocalFleet]:
    async with LocalFleet(tmp_path / "keys", keepalive_interval=0.5) as local:
        await local.start_node("n1")
        await local.start_node("n2")
        yield local


def _executor(fleet: LocalFleet, name: str = "n1") -> SshExecutor:
    [info] = [node for node in fleet.nodes() if node.name == name]
    node = NodeConfig(name=name, host=info.host, port=info.port, user=fleet.user,
                      identity_file=str(fleet.client_key_path), known_hosts=str(fleet.known_hosts_path))
    return SshExecutor([node])


async def _until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g}s"
        await asyncio.sleep(0.05)


async def test_cancel_during_a_node_outage_is_not_undone_by_node_loss(tmp_path: Path, fleet: LocalFleet) -> None:
    home = SluiceHome(tmp_path, fleet.nodes_toml(slots=1, workdir=str(tmp_path / "workers")))
    home.add_job("long", 'command = "sleep 30"\n')
    # The default lease (600 s) cannot run out before the cancel is in; it is cut short only once the scheduler
    # has taken the cancel, so the order is certain: the cancel first, the lease's expiry after.
    assert FAST.node_lost_after >= 600
    scheduler = await home.start_scheduler(FAST)
    try:
        run_id = await home.submit("long")
        node = (await home.wait_for(run_id, {"running"}))["node"]

        async def job_running() -> bool:
            # The run is `running` from its dispatch; the attempt only once the launch answered. A cancel of an
            # attempt whose launch has no answer yet waits for the node, so the test stops it only after.
            return [a["status"] for a in (await home.run_json(run_id))["attempts"]] == ["running"]

        await _until(job_running, "the launch to answer")
        await fleet.stop_node(node)

        async def node_down() -> bool:
            async with await home.engine() as engine:
                return any(view.config.name == node and view.status in ("down", "refused")
                           for view in await engine.nodes())

        await _until(node_down, f"node {node} seen down")
        assert (await home.cli("cancel", str(run_id))).code == 0

        async def term_decided() -> bool:
            return any(e["kind"] == "kill" and "TERM sent (cancelled)" in (e["detail"] or "")
                       for e in (await home.run_json(run_id))["events"])

        await _until(term_decided, "the scheduler took the cancel (TERM for a node that does not answer)")
        assert (await home.run_json(run_id))["status"] == "running", "the lease has not run out yet"
        scheduler.settings = replace(scheduler.settings, node_lost_after=1.0)  # now the lease runs out
        await home.wait_ended(run_id, timeout=30)
    finally:
        await home.stop_scheduler()
    await home.run_until_idle()  # whatever a scheduler would do with the run now, it has done
    run = await home.run_json(run_id)
    assert [(a["status"], a["reason"]) for a in run["attempts"]] == [("lost", "node_lost")], "given up by its lease"
    assert run["status"] == "cancelled" and run["attempt"] == 1, "a cancelled run must never be dispatched again"


async def test_a_job_script_cut_short_in_transit_is_never_started(tmp_path: Path, fleet: LocalFleet) -> None:
    executor = _executor(fleet)
    folder = tmp_path / "workers" / "r1-a1"
    script = b"echo would-delete > " + str(tmp_path / "ran").encode() + b"\n"
    try:
        cut = await executor.links["n1"].exec(LAUNCH_SCRIPT, [str(folder), str(len(script) + 10)], stdin=script)
    finally:
        await executor.close()
    assert cut.exit_status == 76 and b"cut short" in cut.stderr
    assert not folder.exists(), "the folder is removed so a re-launch can start cleanly"
    await asyncio.sleep(0.3)
    assert not (tmp_path / "ran").exists()


async def test_a_node_that_cannot_launch_fails_the_run_instead_of_looping(tmp_path: Path, fleet: LocalFleet) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the workdir should be")
    home = SluiceHome(tmp_path, fleet.nodes_toml(slots=1, workdir=str(blocker / "sub")))
    home.add_job("quick", 'command = "echo hi"\n')
    await home.start_scheduler()
    try:
        run = await home.wait_ended(await home.submit("quick"), timeout=40)
    finally:
        await home.stop_scheduler()
    assert run["status"] == "failed"
    assert [a["reason"] for a in run["attempts"]] == ["launch_failed"] * 3
    assert "launch failed 3 times in a row" in run["events"][-1]["detail"]


async def test_held_backfill_partitions_do_not_starve_other_runs(tmp_path: Path, fleet: LocalFleet) -> None:
    home = SluiceHome(tmp_path, fleet.nodes_toml(slots=2, workdir=str(tmp_path / "workers")))
    home.add_job("daily", 'command = "true"\n[partition]\nparam = "day"\nkind = "daily"\n')
    home.add_job("adhoc", 'command = "echo adhoc"\n')
    await home.cli_json("backfill", "daily", "--from", "2023-01-01", "--to", "2024-12-31", "--canary", "1")
    await home.start_scheduler()
    try:
        run = await home.wait_ended(await home.submit("adhoc"), timeout=20)
    finally:
        await home.stop_scheduler()
    assert run["status"] == "succeeded"


async def test_hostile_workdir_is_quoted_not_executed(tmp_path: Path, fleet: LocalFleet) -> None:
    touched = tmp_path / "pwned"
    home = SluiceHome(tmp_path, fleet.nodes_toml(slots=1, workdir=str(tmp_path / "workers")))
    home.add_job("odd_dir", f'command = "pwd"\nworkdir = "{tmp_path}/a`b$(touch {touched})"\n')
    await home.start_scheduler()
    try:
        run = await home.wait_ended(await home.submit("odd_dir"))
    finally:
        await home.stop_scheduler()
    assert run["status"] == "failed" and run["exit_code"] == 126
    assert not touched.exists()
    assert b"cannot cd to" in (await home.cli("logs", str(run["id"]), "--stderr")).stdout


async def test_unreadable_exit_code_fails_only_that_attempt(tmp_path: Path, fleet: LocalFleet) -> None:
    broken, healthy = tmp_path / "broken", tmp_path / "healthy"
    for folder, code in ((broken, ""), (healthy, "0\n")):
        folder.mkdir()
        (folder / "exit").write_text(code)
        (folder / "stdout").write_bytes(b"out\n")
        (folder / "stderr").write_bytes(b"")
    requests = [ProbeRequest(str(broken), 0, 0), ProbeRequest(str(healthy), 0, 0)]
    executor = _executor(fleet)
    try:
        result = await executor.links["n1"].exec(PROBE_SCRIPT, ["1024", str(broken), "0", "0", str(healthy), "0", "0"])
    finally:
        await executor.close()
    reports = parse_probe_output(result.stdout, requests)
    assert [(r.state, r.exit_code, r.stdout_chunk) for r in reports] == [("exited", None, b"out\n"),
                                                                         ("exited", 0, b"out\n")]


async def test_scheduled_job_with_list_partitions_is_rejected_at_load(tmp_path: Path) -> None:
    home = SluiceHome(tmp_path, "")
    home.add_job("bad_cron", 'command = "true"\nschedule = "0 * * * *"\n[partition]\nparam = "h"\nkind = "list"\n'
                             'values = ["a"]\n')
    result = await home.cli("jobs")
    assert result.code == 2 and "bad_cron.toml" in result.stderr and "not \"list\"" in result.stderr


async def test_an_unusable_key_file_refuses_the_node_with_the_reason(tmp_path: Path, fleet: LocalFleet) -> None:
    bad_key = tmp_path / "not-a-key"
    bad_key.write_text("this is not a private key\n")
    [info] = [node for node in fleet.nodes() if node.name == "n1"]
    node = NodeConfig(name="n1", host=info.host, port=info.port, user=fleet.user, identity_file=str(bad_key),
                      known_hosts=str(fleet.known_hosts_path))
    executor = SshExecutor([node])
    try:
        with pytest.raises(TargetUnavailable) as refused:
            await executor.check("n1")
        state, error = executor.health("n1")
    finally:
        await executor.close()
    assert refused.value.refused
    assert state == "refused" and error is not None and str(bad_key) in error, "never 'unknown' forever"
