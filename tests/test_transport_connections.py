"""NodeLink's connections, over both SSH servers: concurrent first uses stay under the per-node cap, a
command that times out closes only its own channel, never the launches sharing its connection, and an extra
connection that cannot be opened leaves a node whose connection works up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sshd import OpenSSHServer

from console.demo.localnode import LocalFleet
from scheduler.config import NodeConfig
from scheduler.executor import TargetUnavailable
from scheduler.ssh.executor import SshExecutor
from scheduler.ssh.transport import (
    CHANNELS_PER_CONNECTION,
    MAX_CONNECTIONS_PER_NODE,
    NodeLink,
    TransportSettings,
)


@dataclass
class Server:
    node: NodeConfig
    #: How many SSH connections the server has accepted (and authenticated) so far.
    connections: Callable[[], int]
    #: Refuse new connections from now on, keeping the live ones.
    stop_listening: Callable[[], None]


@pytest.fixture(params=["asyncssh", "openssh"])
async def server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Server]:
    if request.param == "asyncssh":
        async with LocalFleet(tmp_path / "keys") as fleet:
            info = await fleet.start_node("n1")
            yield Server(NodeConfig(name="n1", host=info.host, port=info.port, user=fleet.user,
                                    identity_file=str(fleet.client_key_path),
                                    known_hosts=str(fleet.known_hosts_path)),
                         lambda: fleet.connections_accepted("n1"), lambda: fleet.stop_listening("n1"))
    else:
        make: Callable[..., OpenSSHServer] = request.getfixturevalue("make_openssh_server")
        sshd = make("n1")
        # LogLevel VERBOSE: one line per authenticated connection (sshd's own readiness probe never logs in).
        yield Server(NodeConfig(name="n1", host=sshd.host, port=sshd.port, user=sshd.user,
                                identity_file=str(sshd.client_key_path), known_hosts=str(sshd.known_hosts_path)),
                     lambda: sshd.log_text().count("Accepted publickey"), sshd.stop_listening)


async def _until(condition: Callable[[], object], what: str, timeout: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_concurrent_first_uses_never_open_more_connections_than_the_cap(server: Server) -> None:
    link = NodeLink(server.node, TransportSettings())
    try:
        results = await asyncio.gather(*(link.exec(f"sleep 0.2; echo {i}", [], timeout=60) for i in range(40)))
    finally:
        await link.close()
    assert [r.stdout for r in results] == [f"{i}\n".encode() for i in range(40)]
    assert 1 <= server.connections() <= MAX_CONNECTIONS_PER_NODE, f"{server.connections()} connections opened"


async def test_a_timed_out_command_does_not_abort_the_others_on_its_connection(
        server: Server, tmp_path: Path) -> None:
    started, release, gone = tmp_path / "started", tmp_path / "release", tmp_path / "gone"
    link = NodeLink(server.node, TransportSettings())
    try:
        assert (await link.exec("true", [], timeout=30)).exit_status == 0  # one connection, open
        slow = asyncio.ensure_future(link.exec(
            f"touch {started}; while [ ! -e {release} ]; do sleep 0.05; done; echo slow-done", [], timeout=60))
        await _until(started.exists, "the slow command to run")
        with pytest.raises(TargetUnavailable) as timed_out:
            # Writes until its channel is closed (then echo fails: SIGPIPE is ignored) and says so.
            await link.exec(f"trap '' PIPE; while echo tick; do sleep 0.05; done; touch {gone}", [], timeout=0.2)
        release.touch()
        result = await asyncio.wait_for(slow, 30)
        assert (result.exit_status, result.stdout) == (0, b"slow-done\n")
        assert timed_out.value.sent and "0.2s" in str(timed_out.value)
        await _until(gone.exists, "the timed-out command's channel to be closed")
        assert link.state == "up"
        assert (await link.exec("echo again", [], timeout=30)).stdout == b"again\n"
    finally:
        await link.close()
    assert server.connections() == 1, "the timeout must close its channel only, not the connection"


async def test_a_failed_extra_connection_leaves_a_node_whose_connection_works_up(
        server: Server, tmp_path: Path) -> None:
    release = tmp_path / "release"
    executor = SshExecutor([server.node], TransportSettings())
    link = executor.links["n1"]
    try:
        await executor.check("n1")  # one connection, open, and the node checked: it shows up
        # Fill every channel of that connection with a command that waits for the test, so the next command
        # needs a second connection, which the node then refuses (its listener is gone, its sessions are not).
        gated = [asyncio.ensure_future(link.exec(
            f"touch {tmp_path}/started-{i}; while [ ! -e {release} ]; do sleep 0.05; done; echo {i}", [],
            timeout=60)) for i in range(CHANNELS_PER_CONNECTION)]
        await _until(lambda: all((tmp_path / f"started-{i}").exists() for i in range(CHANNELS_PER_CONNECTION)),
                     "every channel of the first connection to run a command")
        server.stop_listening()
        with pytest.raises(TargetUnavailable) as refused:
            await link.exec("echo extra", [], timeout=30)
        # Read while the first connection's commands still run: nothing has completed since the failure, so
        # only the failed connect itself decided the state the scheduler reads.
        health = executor.health("n1")
        release.touch()
        results = await asyncio.wait_for(asyncio.gather(*gated), 30)
        again = await link.exec("echo again", [], timeout=30)
    finally:
        await executor.close()
    assert not refused.value.sent and "cannot connect" in str(refused.value), refused.value
    assert health == ("up", None), "one failed extra connection must not mark a node that answers down"
    assert [r.stdout for r in results] == [f"{i}\n".encode() for i in range(CHANNELS_PER_CONNECTION)]
    assert again.stdout == b"again\n", "commands keep running on the connection that works"


async def test_an_empty_stdin_reaches_the_command_as_end_of_file(server: Server) -> None:
    # launch.sh drains its stdin; an attach-only relaunch sends nothing and must not wait out its timeout.
    link = NodeLink(server.node, TransportSettings())
    try:
        result = await link.exec("cat; echo drained", [], stdin=b"", timeout=20)
    finally:
        await link.close()
    assert (result.exit_status, result.stdout) == (0, b"drained\n")


async def test_a_connected_node_is_not_up_before_its_first_check_answers(server: Server) -> None:
    """Connecting proves nothing about /proc: a dispatch in that moment launched on a worker that cannot watch jobs."""
    executor = SshExecutor([server.node], TransportSettings())
    try:
        assert (await executor.links["n1"].exec("true", [], timeout=30)).exit_status == 0
        connected = executor.health("n1")
        await executor.check("n1")
        checked = executor.health("n1")
    finally:
        await executor.close()
    assert connected == ("unknown", None), "connected but unchecked: no dispatch may go there yet"
    assert checked == ("up", None)
