"""LocalFleet speaks real SSH: exact bytes, exit codes, env, host-key checks, concurrency, drops and restarts."""

from __future__ import annotations

import asyncio
import os
import shlex
import stat
import time
import tomllib
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from console.demo.localnode import LocalFleet, LocalNodeInfo
from scheduler.config import NodesFile


def connect(fleet: LocalFleet, info: LocalNodeInfo, **options: Any) -> asyncssh.SSHClientConnection:
    options = {
        "username": fleet.user,
        "known_hosts": str(fleet.known_hosts_path),
        "client_keys": [str(fleet.client_key_path)],
        "agent_path": None,
        "config": None,
        **options,
    }
    return asyncssh.connect(info.host, info.port, **options)


def node(fleet: LocalFleet, name: str) -> LocalNodeInfo:
    return next(info for info in fleet.nodes() if info.name == name)


async def eventually(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def zombie_children() -> list[int]:
    zombies = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] == "Z" and int(fields[1]) == os.getpid():
                zombies.append(int(entry.name))
    return zombies


async def test_exact_binary_stdout_stderr_and_exit_code(local_fleet: LocalFleet) -> None:
    payload = os.urandom(300_000) + bytes(range(256))
    async with connect(local_fleet, node(local_fleet, "n1")) as conn:
        result = await conn.run("cat; printf 'e\\000rr\\377' >&2; exit 7", input=payload, encoding=None)
        assert result.stdout == payload
        assert result.stderr == b"e\x00rr\xff"
        assert result.exit_status == 7
        flipped = await conn.run("cat >&2", input=payload, encoding=None)
        assert (flipped.stdout, flipped.stderr, flipped.exit_status) == (b"", payload, 0)


async def test_channel_eof_closes_command_stdin(local_fleet: LocalFleet) -> None:
    async with connect(local_fleet, node(local_fleet, "n1")) as conn:
        process = await conn.create_process("cat; echo after-eof", encoding=None)
        process.stdin.write(b"abc")
        process.stdin.write_eof()
        assert await process.stdout.read() == b"abcafter-eof\n"
        completed = await process.wait()
        assert completed.exit_status == 0


async def test_signal_death_is_reported_as_exit_signal(local_fleet: LocalFleet) -> None:
    async with connect(local_fleet, node(local_fleet, "n1")) as conn:
        result = await conn.run("kill -TERM $$")
        assert result.exit_signal is not None and result.exit_signal[0] == "TERM"
        assert result.returncode == -15


async def test_ssh_signal_reaches_the_command_group(local_fleet: LocalFleet) -> None:
    # Real sshd only honours this with post-auth privsep, so not for root logins: sluice must cancel by command.
    async with connect(local_fleet, node(local_fleet, "n1")) as conn:
        process = await conn.create_process("echo started; sleep 30")
        assert await process.stdout.readline() == "started\n"
        process.send_signal("TERM")
        completed = await process.wait(timeout=5)
        assert completed.exit_signal is not None and completed.exit_signal[0] == "TERM"


async def test_client_env_arrives_and_cwd_is_home(local_fleet: LocalFleet) -> None:
    async with connect(local_fleet, node(local_fleet, "n2")) as conn:
        result = await conn.run(
            'printf "%s|%s|%s" "$SLUICE_JOB_ID" "$OTHER_VAR" "$(pwd)"',
            env={"SLUICE_JOB_ID": "job-42", "OTHER_VAR": "x y"},
        )
        assert result.stdout == f"job-42|x y|{Path.home()}"


async def test_unknown_host_key_is_refused(local_fleet: LocalFleet, tmp_path: Path) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        async with connect(local_fleet, node(local_fleet, "n1"), known_hosts=str(empty)):
            pass


async def test_wrong_user_or_client_key_is_refused(local_fleet: LocalFleet, tmp_path: Path) -> None:
    info = node(local_fleet, "n1")
    with pytest.raises(asyncssh.PermissionDenied):
        async with connect(local_fleet, info, username="not-" + local_fleet.user):
            pass
    stranger = asyncssh.generate_private_key("ssh-ed25519")
    with pytest.raises(asyncssh.PermissionDenied):
        async with connect(local_fleet, info, client_keys=[stranger]):
            pass


async def test_ten_concurrent_channels_on_one_connection(local_fleet: LocalFleet, tmp_path: Path) -> None:
    # Each command leaves its marker and then waits for all ten: they can only all finish if all ten ran at
    # once on the one connection (one after another, the first would give up after its 60 s).
    markers = tmp_path / "markers"
    markers.mkdir()
    folder = shlex.quote(str(markers))

    def command(index: int) -> str:
        return (f'touch {folder}/{index}; n=0; until [ "$(ls {folder} | wc -l)" -eq 10 ]; do n=$((n + 1)); '
                f"if [ $n -gt 1200 ]; then ls {folder} >&2; exit 1; fi; sleep 0.05; done; echo {index}")

    async with connect(local_fleet, node(local_fleet, "n1")) as conn:
        results = await asyncio.wait_for(asyncio.gather(*(conn.run(command(i)) for i in range(10))), 120)
    # Exit status only: a login shell's own start-up may write to stderr (pyenv's rehash on this host).
    assert [r.exit_status for r in results] == [0] * 10, [r.stderr for r in results]
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(10)]


async def test_detached_grandchild_survives_channel_and_connection_close(
    local_fleet: LocalFleet, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    async with connect(local_fleet, node(local_fleet, "n1")) as conn:
        result = await conn.run(
            "setsid sh -c 'sleep 2; echo hi > \"$SLUICE_MARKER\"' </dev/null >/dev/null 2>&1 &",
            env={"SLUICE_MARKER": str(marker)},
        )
        assert result.exit_status == 0
        assert not marker.exists(), "the channel waited for the detached job"
    # Closing the client was the polite case; also take the node away entirely.
    await local_fleet.stop_node("n1", kill_commands=True)
    assert not marker.exists()
    await eventually(lambda: marker.exists() and marker.read_bytes() == b"hi\n")


async def test_drop_connections_drops_the_link_and_accepts_new_ones(local_fleet: LocalFleet) -> None:
    info = node(local_fleet, "n1")
    async with connect(local_fleet, info) as conn:
        # A chatty command is killed by SIGPIPE once its pipes are gone, just as under a real sshd.
        process = await conn.create_process("while :; do echo tick; sleep 0.05; done")
        assert await process.stdout.readline() == "tick\n"
        await local_fleet.drop_connections("n1")
        await asyncio.wait_for(conn.wait_closed(), 5)
        assert conn.is_closed()
        completed = await process.wait(timeout=5)
        assert completed.exit_status is None and completed.exit_signal is None, "no exit report over a dead link"
    await eventually(lambda: local_fleet.active_commands("n1") == 0)
    assert local_fleet.is_running("n1")
    async with connect(local_fleet, info) as conn:
        assert (await conn.run("echo again")).stdout == "again\n"


async def test_stop_then_start_keeps_port_and_host_key(local_fleet: LocalFleet) -> None:
    before = node(local_fleet, "n2")
    known_hosts = local_fleet.known_hosts_path.read_text()
    async with connect(local_fleet, before) as conn:
        await local_fleet.stop_node("n2")
        await asyncio.wait_for(conn.wait_closed(), 5)
    assert not local_fleet.is_running("n2")
    with pytest.raises(OSError):
        async with connect(local_fleet, before):
            pass
    after = await local_fleet.start_node("n2")
    assert after == before
    assert local_fleet.known_hosts_path.read_text() == known_hosts
    async with connect(local_fleet, after) as conn:  # known_hosts verification proves the same host key
        assert (await conn.run("echo back")).stdout == "back\n"


async def test_shell_requests_are_refused(local_fleet: LocalFleet) -> None:
    async with connect(local_fleet, node(local_fleet, "n1")) as conn:
        process = await conn.create_process()
        process.stdin.write_eof()
        completed = await process.wait()
        assert completed.exit_status == 1
        assert "only exec requests" in completed.stderr


async def test_commands_are_reaped_and_close_kills_attached_ones(tmp_path: Path) -> None:
    async with LocalFleet(tmp_path / "keys") as fleet:
        info = await fleet.start_node("solo")
        async with connect(fleet, info) as conn:
            for _ in range(5):
                await conn.run("true")
            assert zombie_children() == []
            await conn.create_process("sleep 60")
            # The shell exits at once, but its background job holds stdout open, so the session stays.
            await conn.create_process("sleep 60 & exit 0")
            await eventually(lambda: fleet.active_commands() == 2)
    assert fleet.active_commands() == 0
    assert zombie_children() == []


async def test_keys_and_nodes_toml(local_fleet: LocalFleet, tmp_path: Path) -> None:
    for path in (local_fleet.client_key_path, local_fleet.known_hosts_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (tmp_path / "keys" / "client_key.pub").read_text().startswith("ssh-ed25519 ")
    text = local_fleet.nodes_toml(slots=2, labels={"n2": ["gpu", "big mem"]}, workdir="/tmp/sluice work")
    parsed = NodesFile.model_validate(tomllib.loads(text))
    assert [(n.name, n.host, n.port) for n in parsed.node] == [
        (i.name, i.host, i.port) for i in local_fleet.nodes()
    ]
    second = parsed.node[1]
    assert second.labels == ["gpu", "big mem"] and second.slots == 2 and second.workdir == "/tmp/sluice work"
    assert second.user == local_fleet.user
    assert second.identity_file == str(local_fleet.client_key_path)
    assert second.known_hosts == str(local_fleet.known_hosts_path)
