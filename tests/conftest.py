"""Shared fixtures: in-process SSH worker nodes (LocalFleet) and real OpenSSH sshd servers."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path

import pytest
from netns import NetnsUnavailable, VethNamespace, netns_missing
from sshd import OpenSSHServer, sshd_path

from console.demo.localnode import LocalFleet


@pytest.fixture(autouse=True)
def _no_machine_known_hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the transport's machine-wide known_hosts at a missing file: no test trusts this machine's."""
    monkeypatch.setenv("SLUICE_GLOBAL_KNOWN_HOSTS", str(tmp_path / "no-global-known-hosts"))


@pytest.fixture(autouse=True)
def _times_in_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Show times in UTC, whatever this machine's zone: snapshots and printed times read the same everywhere."""
    monkeypatch.setenv("SLUICE_TZ", "UTC")


@pytest.fixture
async def local_fleet(tmp_path: Path) -> AsyncIterator[LocalFleet]:
    """A LocalFleet with nodes "n1" and "n2" running, keys in tmp_path/"keys"."""
    async with LocalFleet(tmp_path / "keys") as fleet:
        await fleet.start_node("n1")
        await fleet.start_node("n2")
        yield fleet


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("SLUICE_REQUIRE_SSHD") == "1":
        pytest.fail(f"{reason} (SLUICE_REQUIRE_SSHD=1 forbids skipping)")
    pytest.skip(reason)


def _require_sshd() -> None:
    if sshd_path() is None:
        _skip_or_fail("no sshd binary: install openssh-server")


@pytest.fixture
def make_openssh_server(tmp_path: Path) -> Iterator[Callable[..., OpenSSHServer]]:
    """Factory for started OpenSSHServers, each in tmp_path/<name>; all are stopped at teardown."""
    _require_sshd()
    servers: list[OpenSSHServer] = []

    def make(name: str = "sshd-node", extra_config: Iterable[str] = ()) -> OpenSSHServer:
        server = OpenSSHServer(tmp_path / name, name, extra_config)
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def openssh_server(make_openssh_server: Callable[..., OpenSSHServer]) -> OpenSSHServer:
    """One started OpenSSHServer (skips without sshd unless SLUICE_REQUIRE_SSHD=1)."""
    return make_openssh_server("sshd-node")


@pytest.fixture
def veth_namespace() -> Iterator[VethNamespace]:
    """A network namespace with a veth to the host, removed at teardown (skips without `ip netns` unless CI)."""
    reason = netns_missing()
    if reason:
        _skip_or_fail(reason)
    namespace = VethNamespace()
    try:
        namespace.create()
    except NetnsUnavailable as exc:
        _skip_or_fail(str(exc))
    yield namespace
    namespace.close()


@pytest.fixture
def netns_openssh_server(veth_namespace: VethNamespace, tmp_path: Path) -> Iterator[OpenSSHServer]:
    """A started OpenSSHServer inside veth_namespace, listening on the namespace's address."""
    _require_sshd()
    server = OpenSSHServer(tmp_path / "sshd-netns", "sshd-netns", host=veth_namespace.address,
                           prefix=veth_namespace.exec_prefix)
    server.start()
    yield server
    server.stop()
