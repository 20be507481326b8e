"""The `cluster` fixture: a Sluice home with two worker nodes, over in-process asyncssh or real OpenSSH."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from harness import SluiceHome
from sshd import OpenSSHServer

from console.demo.localnode import LocalFleet

LABELS = {"n1": [], "n2": ["special"]}


@pytest.fixture(params=["asyncssh", "openssh"])
async def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SluiceHome]:
    """Two nodes: n1 (no labels) and n2 (label "special"), 2 slots each; the scheduler is not started."""
    if request.param == "asyncssh":
        async with LocalFleet(tmp_path / "keys") as fleet:
            for name in LABELS:
                await fleet.start_node(name)
            tables = fleet.nodes_toml(slots=2, labels=LABELS, workdir=str(tmp_path / "workers"))
            home = SluiceHome(tmp_path, tables)
            home.fleet = fleet  # type: ignore[attr-defined]
            try:
                yield home
            finally:
                await home.stop_scheduler()
    else:
        make: Callable[[str], OpenSSHServer] = request.getfixturevalue("make_openssh_server")
        servers = {name: make(name) for name in LABELS}
        tables = "\n".join(server.node_toml(name, slots=2, labels=LABELS[name], workdir=str(tmp_path / "workers"))
                           for name, server in servers.items())
        home = SluiceHome(tmp_path, tables)
        home.servers = servers  # type: ignore[attr-defined]
        try:
            yield home
        finally:
            await home.stop_scheduler()
