"""NodeLink's connections, over both SSH servers: concurrent first uses stay under the per-node cap, and a
command that times out closes only its own channel, never the launches sharing its connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sshd import OpenSSHServer

from scheduler.config import NodeConfig
from scheduler.executor import TargetUnavailable
from scheduler.localnode import LocalFleet
from scheduler.ssh.transport import MAX_CONNECTIONS_PER_NODE, NodeLink, TransportSettings


@dataclass
class Server:
    node: NodeConfig
    #: How many SSH connections the server has accepted (and authenticated) so far.
    connections: Callable[[], int]


@pytest.fixture(params=["asyncssh", "openssh"])
async def server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Server]:
    if request.param == "asyncssh":
        async with LocalFleet(tmp_path / "keys") as fleet:
            info = await fleet.start_node("n1")
            yield Server(NodeConfig(name="n1", host=info.host, port=info.port, user=fleet.user,
                                    identity_file=str(fleet.client_key_path),
                                    known_hosts=str(fleet.known_hosts_path)),
                         lambda: fleet.connections_accepted("n1"))
    else:
        make: Callable[..., OpenSSHServer] = request.getfixturevalue("make_openssh_server")
        sshd = make("n1")
        # LogLevel VERBOSE: one line per authenticated connection (sshd's own readiness probe never logs in).
        yield Server(NodeConfig(name="n1", host=sshd.host, port=sshd.port, user=sshd.user,
                                identity_file=str(sshd.client_key_path), known_hosts=str(sshd.known_hosts_path)),
                     lambda: sshd.log_text().count("Accepted publickey"))


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
