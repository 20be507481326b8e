"""Quarantine: a node whose attempts keep failing for infrastructure reasons takes no new work, says why, and
comes back after an undrain or a health check after the cool-down."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from harness import FAST, SluiceHome
from sshd import OpenSSHServer

from console.demo.localnode import LocalFleet, node_toml_table
from scheduler.config import NodeConfig
from scheduler.ssh.transport import CHANNELS_PER_CONNECTION


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


def broken_and_good(fleet: LocalFleet, tmp_path: Path, quarantine_after: int) -> str:
    """n1 cannot launch (its workdir is under a file), n2 can; one slot each."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the workdir should be")
    workdirs = {"n1": str(blocker / "sub"), "n2": str(tmp_path / "workers")}
    return "\n".join(node_toml_table(name=info.name, host=info.host, port=info.port, user=fleet.user,
                                     identity_file=fleet.client_key_path, known_hosts=fleet.known_hosts_path,
                                     slots=1, workdir=workdirs[info.name])
                     + f"quarantine_after = {quarantine_after}\n" for info in fleet.nodes())


async def nodes(home: SluiceHome) -> dict[str, dict[str, Any]]:
    return {node["name"]: node for node in (await home.cli_json("nodes"))["nodes"]}


async def events(home: SluiceHome, kind: str) -> list[dict[str, Any]]:
    return list((await home.cli_json("events", "--kind", kind))["events"])


def test_a_node_is_quarantined_after_five_failures_by_default() -> None:
    assert NodeConfig(name="n", host="h").quarantine_after == 5


async def test_a_node_that_keeps_failing_to_launch_is_quarantined_until_undrained(tmp_path: Path) -> None:
    async with LocalFleet(tmp_path / "keys", keepalive_interval=0.5) as fleet:
        await fleet.start_node("n1")
        await fleet.start_node("n2")
        home = SluiceHome(tmp_path, broken_and_good(fleet, tmp_path, quarantine_after=2))
        home.add_job("quick", 'command = "sleep 1"\n')
        await home.start_scheduler(replace(FAST, quarantine_cooldown=600))
        try:
            run_ids = [await home.submit("quick") for _ in range(3)]
            quarantined = await eventually(lambda: events(home, "node_quarantined"), "n1 quarantined", 30)
            finals = [await home.wait_ended(run_id, timeout=60) for run_id in run_ids]
            shown = (await nodes(home))["n1"]
            table = (await home.cli("nodes")).text
            undrain = await home.cli("undrain", "n1")
            back = await eventually(lambda: events(home, "node_unquarantined"), "quarantine lifted", 10)
            after = (await nodes(home))["n1"]
        finally:
            await home.stop_scheduler()
    assert len(quarantined) == 1 and "n1" in quarantined[0]["detail"], quarantined
    assert "2 infrastructure failures in a row" in quarantined[0]["detail"], quarantined
    assert [final["status"] for final in finals] == ["succeeded"] * 3, finals
    on_n1 = [a for final in finals for a in final["attempts"] if a["node"] == "n1"]
    assert [a["reason"] for a in on_n1] == ["launch_failed"] * 2, "no work goes to a quarantined node"
    assert shown["state"] == "quarantined" and shown["quarantined"], shown
    assert "2 infrastructure failures in a row" in shown["quarantine_reason"], shown
    assert "quarantined" in table and "infrastructure failures" in table, table
    assert undrain.code == 0, undrain.stderr
    assert back[0]["actor"] != "scheduler" and "n1" in back[0]["detail"], back
    assert not after["quarantined"] and after["quarantine_reason"] is None and after["state"] == "up", after


async def test_a_quarantined_node_comes_back_after_it_passes_a_health_check(tmp_path: Path) -> None:
    async with LocalFleet(tmp_path / "keys", keepalive_interval=0.5) as fleet:
        await fleet.start_node("n1")
        await fleet.start_node("n2")
        home = SluiceHome(tmp_path, broken_and_good(fleet, tmp_path, quarantine_after=1))
        home.add_job("quick", 'command = "sleep 1"\n')
        await home.start_scheduler(replace(FAST, quarantine_cooldown=1.0))
        try:
            await home.submit("quick")
            await eventually(lambda: events(home, "node_quarantined"), "n1 quarantined", 30)
            back = await eventually(lambda: events(home, "node_unquarantined"), "quarantine lifted", 30)
        finally:
            await home.stop_scheduler()
    assert back[-1]["actor"] == "scheduler" and "health check" in back[-1]["detail"], back


@dataclass
class OneNode:
    #: The [[node]] table of n1 with this many slots.
    toml: Callable[[int], str]
    #: Refuse new connections from now on, keeping the live ones.
    stop_listening: Callable[[], None]


@pytest.fixture(params=["asyncssh", "openssh"])
async def one_node(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OneNode]:
    workdir = str(tmp_path / "workers")
    if request.param == "asyncssh":
        async with LocalFleet(tmp_path / "keys") as fleet:
            await fleet.start_node("n1")
            yield OneNode(lambda slots: fleet.nodes_toml(slots=slots, workdir=workdir),
                          lambda: fleet.stop_listening("n1"))
    else:
        sshd: OpenSSHServer = request.getfixturevalue("make_openssh_server")("n1")
        yield OneNode(lambda slots: sshd.node_toml("n1", slots=slots, workdir=workdir), sshd.stop_listening)


async def test_launches_left_unsent_by_one_refused_connection_count_once_toward_quarantine(
        one_node: OneNode, tmp_path: Path) -> None:
    # More launches at once than one connection has channels: the rest need a second connection, which the
    # node refuses (its listener is gone, its first connection is not), so they end not_sent together.
    count = CHANNELS_PER_CONNECTION + 3
    home = SluiceHome(tmp_path, one_node.toml(count) + "quarantine_after = 2\n")
    home.add_job("quick", 'command = "echo {tag}"\n[params]\ntag = "x"\n')
    params = tmp_path / "runs.jsonl"
    params.write_text("".join(json.dumps({"tag": f"t{i}"}) + "\n" for i in range(count)))
    await home.start_scheduler(replace(FAST, quarantine_cooldown=600))
    try:
        # The first check opens the connection the launches share.
        await eventually(lambda: _node_state(home, "n1", "up"), "n1 checked and up", 30)
        one_node.stop_listening()
        # One transaction: every run is dispatched in one pass and launched at once.
        run_ids = (await home.cli_json("submit", "quick", "--params-file", str(params)))["run_ids"]

        async def settled() -> bool:
            # A wrongly quarantined node takes no more work: its runs would never end, so stop on either.
            if await events(home, "node_quarantined"):
                return True
            return all([(await home.run_json(run_id))["status"] == "succeeded" for run_id in run_ids])

        await eventually(settled, "every run succeeded or n1 quarantined", 60)
        finals = [await home.run_json(run_id) for run_id in run_ids]
        quarantined = await events(home, "node_quarantined")
        shown = (await nodes(home))["n1"]
    finally:
        await home.stop_scheduler()
    unsent = [a for final in finals for a in final["attempts"] if a["reason"] == "not_sent"]
    assert len(unsent) >= 2, f"the fault must leave several launches unsent: {finals}"
    assert all("cannot connect" in (a["error"] or "") for a in unsent), unsent
    assert quarantined == [], "one refused connection is one infrastructure failure, however many launches it cost"
    assert not shown["quarantined"] and shown["state"] == "up", shown
    assert [final["status"] for final in finals] == ["succeeded"] * count, finals


async def _node_state(home: SluiceHome, name: str, state: str) -> bool:
    return (await nodes(home))[name]["state"] == state
