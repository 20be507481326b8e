"""The demo's fleet marks every job it starts and kills exactly those when it closes, detached or not."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest

from console.demo.localnode import LocalFleet
from console.demo.reaper import MARKER, reap

SLEEPER = [sys.executable, "-c", "import time; time.sleep(300)"]


def environ_of(pid: int) -> list[bytes]:
    """The environment a live process started with; empty for a zombie or a process that is gone."""
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return []


def alive(pid: int) -> bool:
    """Whether pid is a live process (a zombie, killed but not yet reaped by its parent, counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_until_dead(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while alive(pid):
        assert time.monotonic() < deadline, f"process {pid} still alive"
        time.sleep(0.05)


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes the test starts; killed at the end whatever the test did to them."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def start_sleeper(sleepers: list[subprocess.Popen[bytes]], env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(SLEEPER, env=env, start_new_session=True)
    sleepers.append(process)
    return process


async def test_closing_a_reaping_fleet_kills_the_detached_jobs_it_started(tmp_path: Path) -> None:
    async with LocalFleet(tmp_path / "keys", reap_jobs=True) as fleet:
        info = await fleet.start_node("n1")
        async with asyncssh.connect(
            info.host,
            info.port,
            username=fleet.user,
            known_hosts=str(fleet.known_hosts_path),
            client_keys=[str(fleet.client_key_path)],
            agent_path=None,
            config=None,
        ) as conn:
            # Detached like launch.sh's supervisor: the SSH command returns, the job lives on in its own session.
            result = await conn.run("setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!", check=True)
        job = int(str(result.stdout).strip())
        assert f"{MARKER}={fleet.fleet_id}".encode() in environ_of(job)
    wait_until_dead(job)


def test_reaping_a_fleet_spares_every_process_without_its_exact_marker(
    sleepers: list[subprocess.Popen[bytes]],
) -> None:
    fleet_id = "f0123"
    ours = start_sleeper(sleepers, {**os.environ, MARKER: fleet_id})
    other_fleet = start_sleeper(sleepers, {**os.environ, MARKER: "f9999"})
    longer_id = start_sleeper(sleepers, {**os.environ, MARKER: fleet_id + "0"})
    unmarked = start_sleeper(sleepers, {name: value for name, value in os.environ.items() if name != MARKER})
    for process in (ours, other_fleet, longer_id, unmarked):
        deadline = time.monotonic() + 10
        while b"time.sleep(300)" not in Path(f"/proc/{process.pid}/cmdline").read_bytes():
            assert time.monotonic() < deadline, "the sleeper did not exec"
            time.sleep(0.02)
    assert reap(fleet_id) == 1
    ours.wait(10)
    assert all(process.poll() is None for process in (other_fleet, longer_id, unmarked))
