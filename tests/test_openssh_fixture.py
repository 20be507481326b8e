"""The OpenSSH fixture is a real sshd: exact bytes, AcceptEnv, host-key checks, MaxSessions, drops and restarts."""

from __future__ import annotations

import asyncio
import os
import time
import tomllib
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from sshd import OpenSSHServer

from scheduler.config import NodesFile


def connect(server: OpenSSHServer, **options: Any) -> asyncssh.SSHClientConnection:
    options = {
        "username": server.user,
        "known_hosts": str(server.known_hosts_path),
        "client_keys": [str(server.client_key_path)],
        "agent_path": None,
        "config": None,
        **options,
    }
    return asyncssh.connect(server.host, server.port, **options)


async def eventually(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_exact_binary_stdout_stderr_and_exit_code(openssh_server: OpenSSHServer) -> None:
    payload = os.urandom(300_000) + bytes(range(256))
    async with connect(openssh_server) as conn:
        result = await conn.run("cat; printf 'e\\000rr\\377' >&2; exit 7", input=payload, encoding=None)
        assert result.stdout == payload
        assert result.stderr == b"e\x00rr\xff"
        assert result.exit_status == 7
        killed = await conn.run("kill -TERM $$")
        assert killed.exit_signal is not None and killed.exit_signal[0] == "TERM"


async def test_only_sluice_env_vars_are_accepted(openssh_server: OpenSSHServer) -> None:
    async with connect(openssh_server) as conn:
        result = await conn.run(
            'printf "%s|%s" "$SLUICE_JOB_ID" "$OTHER_VAR"', env={"SLUICE_JOB_ID": "job-42", "OTHER_VAR": "x"}
        )
    assert result.stdout == "job-42|"


async def test_unknown_host_key_is_refused(openssh_server: OpenSSHServer, tmp_path: Path) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        async with connect(openssh_server, known_hosts=str(empty)):
            pass


async def test_ten_concurrent_channels_on_one_connection(openssh_server: OpenSSHServer, tmp_path: Path) -> None:
    # Each command leaves its marker and then waits for all ten: they can only all finish if all ten ran at
    # once on the one connection (one after another, the first would give up after its 60 s).
    markers = tmp_path / "markers"
    markers.mkdir()
    command = ('touch "$SLUICE_MARKERS/$SLUICE_INDEX"; n=0; '
               'until [ "$(ls "$SLUICE_MARKERS" | wc -l)" -eq 10 ]; do '
               'n=$((n + 1)); if [ $n -gt 1200 ]; then ls "$SLUICE_MARKERS" >&2; exit 1; fi; sleep 0.05; done; '
               'echo "$SLUICE_INDEX"')
    async with connect(openssh_server) as conn:
        results = await asyncio.wait_for(asyncio.gather(*(
            conn.run(command, env={"SLUICE_MARKERS": str(markers), "SLUICE_INDEX": str(i)}) for i in range(10))), 120)
    # Exit status only: a login shell's own start-up may write to stderr (pyenv's rehash on this host).
    assert [r.exit_status for r in results] == [0] * 10, [r.stderr for r in results]
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(10)]


async def test_detached_grandchild_survives_channel_close_and_dropped_link(
    openssh_server: OpenSSHServer, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    async with connect(openssh_server) as conn:
        result = await conn.run(
            "setsid sh -c 'sleep 2; echo hi > \"$SLUICE_MARKER\"' </dev/null >/dev/null 2>&1 &",
            env={"SLUICE_MARKER": str(marker)},
        )
        assert result.exit_status == 0
        assert not marker.exists(), "the channel waited for the detached job"
        openssh_server.kill_connections()
        await asyncio.wait_for(conn.wait_closed(), 5)
    assert not marker.exists()
    await eventually(lambda: marker.exists() and marker.read_bytes() == b"hi\n")


async def test_kill_connections_drops_the_link_and_accepts_new_ones(openssh_server: OpenSSHServer) -> None:
    async with connect(openssh_server) as conn:
        process = await conn.create_process("while :; do echo tick; sleep 0.05; done")
        assert await process.stdout.readline() == "tick\n"
        openssh_server.kill_connections()
        await asyncio.wait_for(conn.wait_closed(), 5)
        completed = await process.wait(timeout=5)
        assert completed.exit_status is None and completed.exit_signal is None, "no exit report over a dead link"
    async with connect(openssh_server) as conn:
        assert (await conn.run("echo again")).stdout == "again\n"


async def test_restart_keeps_port_and_host_key(openssh_server: OpenSSHServer) -> None:
    port, listener = openssh_server.port, openssh_server.pid
    async with connect(openssh_server) as conn:
        openssh_server.restart()
        await asyncio.wait_for(conn.wait_closed(), 5)  # stop() drops live sessions too
    assert (openssh_server.port, openssh_server.pid != listener) == (port, True)
    async with connect(openssh_server) as conn:  # known_hosts verification proves the same host key
        assert (await conn.run("echo back")).stdout == "back\n"
    openssh_server.stop()
    with pytest.raises(OSError):
        async with connect(openssh_server):
            pass


def test_node_toml_is_a_valid_nodes_file(openssh_server: OpenSSHServer) -> None:
    text = openssh_server.node_toml("real-1", slots=3, labels=["openssh"], workdir="~/sluice")
    (entry,) = NodesFile.model_validate(tomllib.loads(text)).node
    assert (entry.name, entry.host, entry.port, entry.user) == (
        "real-1", "127.0.0.1", openssh_server.port, openssh_server.user
    )
    assert (entry.slots, entry.labels, entry.workdir) == (3, ["openssh"], "~/sluice")
    assert entry.identity_file == str(openssh_server.client_key_path)
    assert entry.known_hosts == str(openssh_server.known_hosts_path)
    line = openssh_server.known_hosts_path.read_text()
    assert line.startswith(f"[127.0.0.1]:{openssh_server.port} ssh-ed25519 ")
