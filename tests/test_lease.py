"""The lease: an unreachable node's attempts are given up only after `lost_after`, never a second copy before.

The default lease (10 minutes) on a real sshd that is down for over a minute; a node's lease in nodes.toml
over the scheduler's default; a job's lease over its node's; and the cap on node losses in a row."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from harness import FAST, SluiceHome
from reliability import FaultFigures, ledger_duplicates, report, store_vs_worker_bytes
from sshd import OpenSSHServer

from console.demo.localnode import LocalFleet, node_toml_table
from scheduler.outcomes import MAX_NODE_LOSSES
from scheduler.process.settings import DEFAULT_LOST_AFTER

#: Keepalive on the scheduler's side: a stopped sshd is seen down within a few seconds.
TRANSPORT: dict[str, Any] = {"keepalive_interval": 1.0, "keepalive_count_max": 2, "connect_timeout": 2.0}


async def eventually(check: Callable[[], Any], what: str, timeout: float) -> Any:
    """Poll check (plain or async) until it returns something truthy; fail naming what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g}s"
        await asyncio.sleep(0.1)


def fleet_toml(fleet: LocalFleet, workdir: Path, extra: str = "", slots: int = 1) -> str:
    """nodes.toml for every node of the fleet, each table followed by the `extra` lines."""
    return "\n".join(node_toml_table(name=info.name, host=info.host, port=info.port, user=fleet.user,
                                     identity_file=fleet.client_key_path, known_hosts=fleet.known_hosts_path,
                                     slots=slots, workdir=str(workdir)) + extra for info in fleet.nodes())


def ticker(ledger: Path, ticks: int, interval: float, extra: str = "") -> str:
    """A job file body: a ledger line when the job STARTS, then `ticks` numbered lines."""
    return f"""
command = '''echo "start $SLUICE_ATTEMPT" >> {ledger}; i=0; while [ $i -lt {ticks} ]; do i=$((i + 1)); echo "tick $i"; sleep {interval}; done'''
{extra}
[retry]
max_attempts = 1
"""


async def node_state(home: SluiceHome, name: str) -> str:
    nodes = {node["name"]: node for node in (await home.cli_json("nodes"))["nodes"]}
    return str(nodes[name]["state"])


async def attempt_status(home: SluiceHome, run_id: int, number: int) -> str | None:
    attempts = (await home.run_json(run_id))["attempts"]
    return attempts[number - 1]["status"] if len(attempts) >= number else None


async def test_the_default_lease_outlives_a_65_second_sshd_outage_on_real_openssh(
    tmp_path: Path, make_openssh_server: Callable[..., OpenSSHServer]
) -> None:
    """The reported defect: with a 60 s lease, a 100 s job whose sshd was down 75 s was started twice."""
    ticks, outage = 90, 67.0
    ledger = tmp_path / "ledger"
    servers = {"a": make_openssh_server("sshd-a"), "b": make_openssh_server("sshd-b")}
    workers = tmp_path / "workers"
    home = SluiceHome(tmp_path, "".join(server.node_toml(name, slots=1, workdir=str(workers))
                                        for name, server in servers.items()))
    home.add_job("long", ticker(ledger, ticks, 1))
    assert FAST.node_lost_after == DEFAULT_LOST_AFTER, "this test runs with the default lease"
    await home.start_scheduler(FAST, **TRANSPORT)
    try:
        run_id = await home.submit("long")
        node = (await home.wait_for(run_id, {"running"}))["node"]
        await eventually(lambda: ledger.exists() and ledger.read_text(), "the job started", 30)
        stopped_at = time.monotonic()
        servers[node].stop()  # the job keeps running on the worker: only its sshd is gone
        await eventually(lambda: _is(node_state(home, node), "down"), "node shown down", 30)
        seen_down = time.monotonic() - stopped_at
        await asyncio.sleep(max(0.0, outage - (time.monotonic() - stopped_at)))  # the outage itself
        during = await home.run_json(run_id)
        servers[node].start()
        restarted_at = time.monotonic()
        await eventually(lambda: _is(node_state(home, node), "up"), "node shown up again", 30)
        seen_up = time.monotonic() - restarted_at
        final = await home.wait_ended(run_id, timeout=ticks + 30)
        recover = time.monotonic() - restarted_at
        logs = await home.cli("logs", str(run_id))
    finally:
        await home.stop_scheduler()

    starts, duplicated = ledger_duplicates(ledger)
    report(FaultFigures(
        f"sshd outage of {restarted_at - stopped_at:.0f} s with the default lease ({DEFAULT_LOST_AFTER:g} s), "
        f"real OpenSSH", "the node's sshd stopped while its job runs on (the job itself untouched), then started",
        1, int(final["status"] != "succeeded" or starts == 0), duplicated, store_vs_worker_bytes(home),
        round(recover, 2), "tests/test_lease.py",
        f"node shown down {seen_down:.1f} s after the stop, up {seen_up:.1f} s after sshd was back; run "
        f"{during['status']} with {len(during['attempts'])} attempt during the outage; recovery includes the "
        f"job's remaining ticks ({ticks} ticks at 1 s in all)"))

    assert during["status"] == "running" and len(during["attempts"]) == 1, during
    assert ledger.read_text() == "start 1\n", "the job must start exactly once"
    assert final["status"] == "succeeded" and final["attempt"] == 1, final
    assert logs.code == 0, logs.stderr
    assert logs.stdout.splitlines() == [f"tick {i}".encode() for i in range(1, ticks + 1)], "the log is complete"


async def _is(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def test_a_nodes_lease_in_nodes_toml_overrides_the_scheduler_default(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    async with LocalFleet(tmp_path / "keys", keepalive_interval=0.5) as fleet:
        await fleet.start_node("n1")
        await fleet.start_node("n2")
        home = SluiceHome(tmp_path, fleet_toml(fleet, tmp_path / "workers", 'lost_after = "1s"\n'))
        home.add_job("ticker", ticker(ledger, 40, 0.1))
        await home.start_scheduler(FAST, keepalive_interval=0.5, keepalive_count_max=2)  # default lease: 600 s
        try:
            run_id = await home.submit("ticker")
            lost_node = (await home.wait_for(run_id, {"running"}))["node"]
            await eventually(lambda: ledger.exists(), "the job started", 20)
            await fleet.stop_node(lost_node)
            await eventually(lambda: attempt_status(home, run_id, 2), "dispatched again after the node's lease", 20)
            await fleet.start_node(lost_node)  # the stale attempt is fenced
            await eventually(lambda: _fenced(home, 1), "stale attempt fenced", 20)
            final = await home.wait_ended(run_id, timeout=30)
        finally:
            await home.stop_scheduler()
    first = final["attempts"][0]
    assert (first["status"], first["reason"]) == ("lost", "node_lost"), first
    assert "1s (its lease)" in first["error"], first
    assert final["status"] == "succeeded" and final["attempts"][1]["node"] != lost_node, final


async def test_a_jobs_lease_overrides_its_nodes(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    node_lease = 1.0
    async with LocalFleet(tmp_path / "keys", keepalive_interval=0.5) as fleet:
        await fleet.start_node("n1")
        await fleet.start_node("n2")
        home = SluiceHome(tmp_path, fleet_toml(fleet, tmp_path / "workers", f'lost_after = "{node_lease:g}s"\n'))
        home.add_job("ticker", ticker(ledger, 60, 0.1, 'lost_after = "10m"'))
        await home.start_scheduler(FAST, keepalive_interval=0.5, keepalive_count_max=2)
        try:
            run_id = await home.submit("ticker")
            node = (await home.wait_for(run_id, {"running"}))["node"]
            await eventually(lambda: ledger.exists(), "the job started", 20)
            await fleet.stop_node(node)
            await eventually(lambda: _is(node_state(home, node), "down"), "node shown down", 20)
            await asyncio.sleep(3 * node_lease)  # the outage: three times the node's lease
            during = await home.run_json(run_id)
            await fleet.start_node(node)
            final = await home.wait_ended(run_id, timeout=30)
        finally:
            await home.stop_scheduler()
    assert during["status"] == "running" and len(during["attempts"]) == 1, during
    assert ledger.read_text() == "start 1\n", "the job's 10 minute lease holds: started once"
    assert final["status"] == "succeeded" and final["attempt"] == 1, final


async def test_a_run_whose_node_is_lost_again_and_again_fails_loudly(tmp_path: Path) -> None:
    async with LocalFleet(tmp_path / "keys", keepalive_interval=0.5) as fleet:
        await fleet.start_node("n1")
        await fleet.start_node("n2")
        home = SluiceHome(tmp_path, fleet_toml(fleet, tmp_path / "workers", 'lost_after = "1s"\n'))
        home.add_job("long", 'command = "sleep 60"\n')
        await home.start_scheduler(FAST, keepalive_interval=0.5, keepalive_count_max=2)
        try:
            run_id = await home.submit("long")
            for number in range(1, MAX_NODE_LOSSES + 1):
                await eventually(lambda n=number: _is(attempt_status(home, run_id, n), "running"),
                                 f"attempt {number} running", 30)
                node = (await home.run_json(run_id))["attempts"][number - 1]["node"]
                await fleet.stop_node(node)
                await eventually(lambda n=number: _is(attempt_status(home, run_id, n), "lost"),
                                 f"attempt {number} lost", 30)
                await fleet.start_node(node)  # back, so the next attempt has somewhere to go (and this is fenced)
            final = await home.wait_ended(run_id, timeout=30)
            await eventually(lambda: _fenced(home, MAX_NODE_LOSSES), "every stale attempt fenced", 30)
        finally:
            await home.stop_scheduler()
    assert final["status"] == "failed", final
    assert [a["reason"] for a in final["attempts"]] == ["node_lost"] * MAX_NODE_LOSSES, final["attempts"]
    ended = [event for event in final["events"] if event["new_status"] == "failed"]
    assert ended and f"lost {MAX_NODE_LOSSES} times in a row" in ended[-1]["detail"], final["events"]


async def _fenced(home: SluiceHome, count: int) -> bool:
    return len((await home.cli_json("events", "--kind", "fenced"))["events"]) >= count


async def test_a_run_on_an_unreachable_node_says_so_and_when_it_is_given_up(tmp_path: Path) -> None:
    async with LocalFleet(tmp_path / "keys", keepalive_interval=0.5) as fleet:
        await fleet.start_node("n1")
        home = SluiceHome(tmp_path, fleet_toml(fleet, tmp_path / "workers", 'lost_after = "45m"\n', slots=2))
        home.add_job("long", 'command = "sleep 30"\nlost_after = "20m"\n')
        home.add_job("plain", 'command = "sleep 30"\n')
        await home.start_scheduler(FAST, keepalive_interval=0.5, keepalive_count_max=2)
        try:
            own, plain = await home.submit("long"), await home.submit("plain")
            await home.wait_for(own, {"running"})
            await home.wait_for(plain, {"running"})
            await fleet.stop_node("n1")
            await eventually(lambda: _is(node_state(home, "n1"), "down"), "node shown down", 20)
            shown = {run_id: await home.cli_json("show", str(run_id)) for run_id in (own, plain)}
            table = (await home.cli("runs")).text
            nodes = {node["name"]: node for node in (await home.cli_json("nodes"))["nodes"]}
            await fleet.start_node("n1")
            await eventually(lambda: _is(node_state(home, "n1"), "up"), "node shown up again", 20)
            after = await home.cli_json("show", str(own))
        finally:
            await home.stop_scheduler()
    since = nodes["n1"]["down_since"]
    assert since, nodes
    for run_id, lease in ((own, 20 * 60), (plain, 45 * 60)):
        given_up = (datetime.strptime(since, "%Y-%m-%dT%H:%M:%S.%fZ") + timedelta(seconds=lease)).strftime("%H:%M:%S")
        expected = (f"node n1 unreachable since {since[11:19]} UTC, the job keeps running there "
                    f"(given up at {given_up} UTC)")
        assert shown[run_id]["wait_reason"] == expected, (run_id, shown[run_id]["status"], shown[run_id]["attempts"], shown[run_id]["events"])
        assert shown[run_id]["attempts"][0]["lost_after"] == lease
        assert expected in table, table
    assert after["wait_reason"] is None, "a node that answers again: nothing to explain"


async def test_a_node_that_goes_down_in_the_middle_of_a_pass_keeps_its_jobs_lease(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    job = f"command = 'while [ ! -e {gate} ]; do sleep 0.05; done'\nlost_after = \"10m\"\n"
    async with LocalFleet(tmp_path / "keys") as fleet:
        await fleet.start_node("n1")
        await fleet.start_node("n2")
        home = SluiceHome(tmp_path, fleet.nodes_toml(slots=1, labels={"n1": ["a"], "n2": ["b"]},
                                                     workdir=str(tmp_path / "workers")))
        home.add_job("on_a", job + 'labels = ["a"]\n')
        home.add_job("on_b", job + 'labels = ["b"]\n')
        # A default lease of 0: an attempt that lost its job's own lease would be given up in that same pass.
        scheduler = await home.start_scheduler(replace(FAST, node_lost_after=0.0))
        loop = asyncio.get_running_loop()
        try:
            on_a, on_b = await home.submit("on_a"), await home.submit("on_b")
            await home.wait_for(on_a, {"running"})
            await home.wait_for(on_b, {"running"})
            # n2 down first: from now on each pass reads the definitions of the runs on unreachable nodes.
            await fleet.stop_node("n2")
            await eventually(lambda: _unreachable(home, on_b, "n2"), "n2's run shown waiting for n2", 30)
            dropped: list[str] = []

            async def drop_n1() -> None:
                await fleet.stop_node("n1")
                deadline = time.monotonic() + 10
                while scheduler.executor.health("n1")[0] != "down":
                    assert time.monotonic() < deadline, "n1 not seen down"
                    await asyncio.sleep(0.01)

            def before_statement(sql: str) -> None:
                # On the scheduler's SQLite thread, as it reads those definitions: n1 goes down right now, after
                # the pass chose whose definitions to read and before it looks at n1's health.
                if not dropped and sql.startswith("SELECT * FROM runs WHERE id IN"):
                    dropped.append(sql)
                    asyncio.run_coroutine_threadsafe(drop_n1(), loop).result(30)

            await scheduler.database.conn.set_trace_callback(before_statement)
            # n1's pass commits its state with what it decided for n1's attempt: read both after it.
            await eventually(lambda: _node_is(home, "n1", "down"), "n1 recorded down", 30)
            run = await home.cli_json("show", str(on_a))
            since = {node["name"]: node for node in (await home.cli_json("nodes"))["nodes"]}["n1"]["down_since"]
        finally:
            gate.touch()
            await home.stop_scheduler()
    assert dropped, "n1 must have gone down while the pass read the definitions"
    assert run["status"] == "running" and [a["status"] for a in run["attempts"]] == ["running"], run
    assert run["attempts"][0]["lost_after"] == 600, "the job's own lease, not the default of 0"
    given_up = (datetime.strptime(since, "%Y-%m-%dT%H:%M:%S.%fZ") + timedelta(seconds=600)).strftime("%H:%M:%S")
    assert run["wait_reason"] == (f"node n1 unreachable since {since[11:19]} UTC, the job keeps running there "
                                  f"(given up at {given_up} UTC)"), run


async def _unreachable(home: SluiceHome, run_id: int, node: str) -> bool:
    return ((await home.cli_json("show", str(run_id)))["wait_reason"] or "").startswith(f"node {node} unreachable")


async def _node_is(home: SluiceHome, name: str, state: str) -> bool:
    return await node_state(home, name) == state
