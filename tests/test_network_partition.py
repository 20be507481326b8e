"""A real partition, not a clean stop: a worker's sshd in a network namespace whose veth drops packets or crawls.

The link goes down mid-run (packets dropped, nothing refused): keepalive notices, the node is shown down, the
attempt keeps its lease, and once the link is back the scheduler re-attaches and fetches every byte. On a
1 Mbit/s link a job's megabytes of output arrive complete. Below the scheduler, the transport itself: a command
cut by the partition is an unreachable node (never an exit code), and an idle link is seen down by keepalive.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from harness import FAST, SluiceHome
from netns import VethNamespace
from reliability import FaultFigures, ledger_duplicates, report, store_vs_worker_bytes
from sshd import OpenSSHServer

from scheduler.config import NodeConfig
from scheduler.executor import TargetUnavailable
from scheduler.ssh.transport import NodeLink, TransportSettings

NODE = "ns1"
#: How long the link stays down: well past keepalive detection (1 s interval, 2 unanswered) and a connect timeout.
PARTITION = 10.0
TRANSPORT: dict[str, Any] = {"keepalive_interval": 1.0, "keepalive_count_max": 2, "connect_timeout": 2.0}
#: A lease far longer than the partition: the attempt must be re-attached, never given up as lost.
SETTINGS = replace(FAST, node_lost_after=600)
TICKS = 80  # one line every 0.25 s: the job runs ~20 s, the partition cuts its middle


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


async def node(home: SluiceHome) -> dict[str, Any]:
    """The node as `sluice nodes --json` shows it."""
    (shown,) = (await home.cli_json("nodes"))["nodes"]
    return shown


async def node_in(home: SluiceHome, state: str) -> dict[str, Any] | None:
    shown = await node(home)
    return shown if shown["state"] == state else None


async def worker_stdout(home: SluiceHome, run_id: int) -> Path:
    """The job's own stdout file on the worker (the namespace shares the filesystem)."""
    async with await home.engine() as engine:
        attempt = await engine.attempt(run_id, 1)
    assert attempt is not None
    return Path(attempt.remote_dir) / "stdout"


def home_on(tmp_path: Path, server: OpenSSHServer) -> SluiceHome:
    return SluiceHome(tmp_path, server.node_toml(NODE, slots=1, workdir=str(tmp_path / "workers")))


def link_to(server: OpenSSHServer) -> NodeLink:
    node = NodeConfig(name=NODE, host=server.host, port=server.port, user=server.user,
                      identity_file=str(server.client_key_path), known_hosts=str(server.known_hosts_path))
    return NodeLink(node, TransportSettings(reconnect_max=1.0, **TRANSPORT))


async def stdout_fetched(home: SluiceHome, run_id: int) -> int:
    """Bytes of the first attempt's stdout already on the bastion."""
    return (await home.run_json(run_id))["attempts"][0]["stdout_bytes"]


async def test_a_dropped_link_is_detected_by_keepalive_and_the_run_reattaches_with_nothing_lost(
    tmp_path: Path, veth_namespace: VethNamespace, netns_openssh_server: OpenSSHServer
) -> None:
    ledger = tmp_path / "ledger"
    home = home_on(tmp_path, netns_openssh_server)
    home.add_job("ticker", f"""
command = '''echo start >> {ledger}; i=0; while [ $i -lt {TICKS} ]; do i=$((i + 1)); echo "tick $i of {TICKS}"; sleep 0.25; done'''
[retry]
max_attempts = 1
""")
    await home.start_scheduler(SETTINGS, **TRANSPORT)
    try:
        run_id = await home.submit("ticker")
        await home.wait_for(run_id, {"running"})
        stdout = await worker_stdout(home, run_id)
        # Cut the link only once output is flowing to the bastion.
        await eventually(lambda: stdout_fetched(home, run_id), "first output fetched", 30)
        cut_at = time.monotonic()
        veth_namespace.link_down()
        down = await eventually(lambda: node_in(home, "down"), "node shown down", PARTITION + 20)
        seen_down = time.monotonic() - cut_at
        during = await home.run_json(run_id)
        fetched_at_cut = during["attempts"][0]["stdout_bytes"]
        await asyncio.sleep(max(0.0, PARTITION - (time.monotonic() - cut_at)))  # the partition itself
        written_while_down = stdout.stat().st_size
        veth_namespace.link_up()
        healed_at = time.monotonic()
        await eventually(lambda: node_in(home, "up"), "node shown up again", 30)
        seen_up = time.monotonic() - healed_at
        final = await home.wait_ended(run_id, timeout=60)
        recover = time.monotonic() - healed_at
        logs = await home.cli("logs", str(run_id))
        events = (await home.cli_json("events", "--kind", "node_down"))["events"]
    finally:
        await home.stop_scheduler()

    starts, duplicated = ledger_duplicates(ledger)
    report(FaultFigures(
        f"network partition: the link to the worker's sshd down {PARTITION:g} s mid-run (real OpenSSH)",
        "the namespace's end of the veth set down (packets dropped, nothing refused); keepalive 1 s x 2",
        1, int(final["status"] != "succeeded" or starts == 0), duplicated, store_vs_worker_bytes(home),
        round(recover, 2), "tests/test_network_partition.py",
        f"node shown down {seen_down:.1f} s after the cut, up {seen_up:.1f} s after the link came back; run "
        f"still running with {len(during['attempts'])} attempt; {fetched_at_cut} bytes fetched at the cut, "
        f"{written_while_down} on the worker when the link came back; recovery includes the job's remaining "
        f"ticks (0.25 s each)"))

    assert down["last_error"], down
    assert during["status"] == "running" and len(during["attempts"]) == 1, during
    assert written_while_down > fetched_at_cut, "the job went on writing while the bastion could not fetch"
    assert final["status"] == "succeeded", final
    assert final["attempt"] == 1 and final["attempts"][0]["status"] == "succeeded", final
    assert ledger.read_text() == "start\n", "the job must start exactly once"
    assert logs.code == 0, logs.stderr
    assert logs.stdout == stdout.read_bytes(), "the bastion's log must be byte-exact"
    assert logs.stdout.splitlines() == [f"tick {i} of {TICKS}".encode() for i in range(1, TICKS + 1)]
    assert events and any("keepalive" in (event["detail"] or "") for event in events), events


async def test_megabytes_of_output_over_a_1_mbit_link_arrive_complete_and_byte_exact(
    tmp_path: Path, veth_namespace: VethNamespace, netns_openssh_server: OpenSSHServer
) -> None:
    ledger = tmp_path / "ledger"
    chunks, chunk = 3, 1 << 20
    home = home_on(tmp_path, netns_openssh_server)
    # Random bytes: incompressible, so SSH compression cannot hide the slow link.
    home.add_job("bulk", f"""
command = '''echo start >> {ledger}; for i in $(seq {chunks}); do head -c {chunk} /dev/urandom; sleep 0.5; done; echo done'''
[retry]
max_attempts = 1
""")
    veth_namespace.slow("1mbit")
    await home.start_scheduler(SETTINGS, **TRANSPORT)
    try:
        submitted_at = time.monotonic()
        run_id = await home.submit("bulk")
        final = await home.wait_ended(run_id, timeout=90)
        took = time.monotonic() - submitted_at
        stdout = await worker_stdout(home, run_id)
        logs = await home.cli("logs", str(run_id))
        shown = await node(home)
    finally:
        await home.stop_scheduler()

    shaped = veth_namespace.shaped_stats()
    starts, duplicated = ledger_duplicates(ledger)
    report(FaultFigures(
        f"slow link: {chunks} MiB of incompressible output over a 1 Mbit/s link (real OpenSSH)",
        "tc tbf rate 1mbit on both ends of the veth, for the whole run",
        1, int(final["status"] != "succeeded" or starts == 0), duplicated, store_vs_worker_bytes(home),
        round(took, 2), "tests/test_network_partition.py",
        f"the link is slow for the whole run, so the time is submit to end (the job itself sleeps 1.5 s); "
        f"{shaped['bytes']} bytes through the shaper, {shaped['overlimits']} overlimits; node {shown['state']}"))
    assert final["status"] == "succeeded", final
    assert final["attempt"] == 1, final
    assert ledger.read_text() == "start\n"
    assert logs.code == 0, logs.stderr
    written = stdout.read_bytes()
    assert len(written) == chunks * chunk + len(b"done\n")
    assert logs.stdout == written, "the bastion's log must be byte-exact"
    assert shown["state"] == "up", shown
    assert shaped["bytes"] >= chunks * chunk and shaped["overlimits"] > 0, f"the tbf did not hold the link: {shaped}"


async def test_a_command_cut_by_a_dropped_link_is_an_unreachable_node_not_an_exit_code(
    tmp_path: Path, veth_namespace: VethNamespace, netns_openssh_server: OpenSSHServer
) -> None:
    marker = tmp_path / "running"
    link = link_to(netns_openssh_server)
    try:
        command = asyncio.ensure_future(link.exec(f"touch {marker}; sleep 30", [], timeout=60))
        await eventually(marker.exists, "command running on the node", 10)
        veth_namespace.link_down()
        with pytest.raises(TargetUnavailable) as cut:
            await asyncio.wait_for(command, 30)
        assert cut.value.sent, "the command may have run: the caller must re-check, not retry elsewhere"
        assert "keepalive" in str(cut.value)
        assert link.state == "down" and "keepalive" in (link.last_error or "")
        veth_namespace.link_up()
        # A link just up may refuse a moment (EHOSTUNREACH while the neighbour entry is stale): retry like the
        # scheduler does, until it answers.
        deadline = asyncio.get_running_loop().time() + 60
        while True:
            link.retry_now()
            try:
                back = await link.exec("echo back", [], timeout=30)
                break
            except TargetUnavailable:
                assert asyncio.get_running_loop().time() < deadline, "the node never answered after link up"
                await asyncio.sleep(0.2)
        assert back.stdout == b"back\n"
        assert link.state == "up"
    finally:
        await link.close()


async def test_an_idle_link_is_seen_down_by_keepalive_alone(
    veth_namespace: VethNamespace, netns_openssh_server: OpenSSHServer
) -> None:
    link = link_to(netns_openssh_server)
    try:
        assert (await link.exec("true", [], timeout=30)).exit_status == 0
        veth_namespace.link_down()
        await eventually(lambda: link.state == "down", "idle link marked down", 20)
        assert "keepalive" in (link.last_error or "")
    finally:
        await link.close()
