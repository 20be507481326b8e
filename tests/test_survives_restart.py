"""Jobs run detached: a stopped scheduler or a dropped SSH link neither kills them nor loses a byte of output."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from harness import SluiceHome
from sshd import OpenSSHServer

from console.demo.localnode import LocalFleet

# Prints a numbered line every 0.5 s, so a gap or a duplicate shows as a wrong sequence.
COUNTER_JOB = """
command = '''i=0; while [ $i -lt {lines} ]; do i=$((i + 1)); echo "line $i of {lines}"; sleep 0.5; done; echo done'''
[params]
lines = "120"
"""


def expected_log(lines: int) -> bytes:
    return b"".join(f"line {i} of {lines}\n".encode() for i in range(1, lines + 1)) + b"done\n"


def _unit_command(home: SluiceHome) -> list[str]:
    """The scheduler's command line as the systemd unit starts it: the ExecStart of `sluice systemd-unit`."""
    unit = subprocess.run([sys.executable, "-m", "console.main", "systemd-unit", "--home", str(home.home.root)],
                          capture_output=True, text=True, check=True, timeout=60).stdout
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    return shlex.split(exec_start.removeprefix("ExecStart=").replace("%%", "%"))


async def _start_scheduler_process(home: SluiceHome) -> asyncio.subprocess.Process:
    """The scheduler started as its systemd unit starts it (and stopped as the unit stops it: SIGTERM to it alone)."""
    log_path = home.root / "scheduler.log"
    started = _starts(home) + 1
    with open(log_path, "ab") as log:
        process = await asyncio.create_subprocess_exec(
            *_unit_command(home), "--poll-interval", "0.2", stdout=asyncio.subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 60
    while _starts(home) < started:  # up once its start is committed, however slow the machine is
        assert process.returncode is None, log_path.read_text()
        assert time.monotonic() < deadline, "the scheduler did not start: " + log_path.read_text()
        await asyncio.sleep(0.05)
    return process


def _starts(home: SluiceHome) -> int:
    """scheduler_started events committed so far (0 before the store exists)."""
    if not home.home.db_path.exists():
        return 0
    conn = sqlite3.connect(f"file:{home.home.db_path}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute("SELECT count(*) FROM events WHERE kind = 'scheduler_started'").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # not migrated yet
    finally:
        conn.close()


async def _stop_scheduler_process(process: asyncio.subprocess.Process) -> int:
    """SIGTERM, then its exit code (how fast it stops is for a benchmark, not a test)."""
    process.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(process.wait(), 60)


async def test_60s_job_survives_scheduler_stopped_for_20s(tmp_path: Path, openssh_server: OpenSSHServer) -> None:
    """The foundation's 'done when': a 60 s job, the scheduler stopped for 20 s mid-run, complete logs."""
    home = SluiceHome(tmp_path, openssh_server.node_toml("n1", workdir=str(tmp_path / "worker")))
    home.add_job("counter", COUNTER_JOB)
    scheduler = await _start_scheduler_process(home)
    run_id = await home.submit("counter", "lines=120")
    await home.wait_for(run_id, {"running"}, timeout=10)
    await asyncio.sleep(15)
    assert await _stop_scheduler_process(scheduler) == 0, "SIGTERM stops the scheduler cleanly"
    assert "stopped; running jobs were left running" in (home.root / "scheduler.log").read_text()
    during = await home.run_json(run_id)
    assert during["status"] == "running"
    await asyncio.sleep(20)  # the outage: the scheduler stays stopped for 20 s
    worker_log = next((tmp_path / "worker").rglob("stdout"))
    deadline = time.monotonic() + 60
    while b"line 60 of 120" not in worker_log.read_bytes():  # however slow the machine, with no scheduler
        assert time.monotonic() < deadline, "the job must keep running while no scheduler watches it"
        await asyncio.sleep(0.2)
    scheduler = await _start_scheduler_process(home)
    try:
        run = await home.wait_ended(run_id, timeout=60)
    finally:
        await _stop_scheduler_process(scheduler)
    assert run["status"] == "succeeded" and run["attempt"] == 1
    log = await home.cli("logs", str(run_id))
    assert log.stdout == expected_log(120)
    assert [e["kind"] for e in run["events"]].count("dispatched") == 1


async def test_dropped_ssh_link_loses_no_byte(tmp_path: Path) -> None:
    async with LocalFleet(tmp_path / "keys") as fleet:
        await fleet.start_node("n1")
        home = SluiceHome(tmp_path, fleet.nodes_toml(workdir=str(tmp_path / "worker")))
        home.add_job("counter", COUNTER_JOB)
        await home.start_scheduler()
        try:
            run_id = await home.submit("counter", "lines=12")
            await home.wait_for(run_id, {"running"})
            for _ in range(3):
                await asyncio.sleep(1.2)
                await fleet.drop_connections("n1")
            run = await home.wait_ended(run_id, timeout=30)
        finally:
            await home.stop_scheduler()
    assert run["status"] == "succeeded" and run["attempt"] == 1
    assert (await home.cli("logs", str(run_id))).stdout == expected_log(12)


async def test_second_scheduler_refuses_to_start(tmp_path: Path) -> None:
    home = SluiceHome(tmp_path, "")
    await home.start_scheduler()
    try:
        result = await home.cli("scheduler")
    finally:
        await home.stop_scheduler()
    assert result.code == 1
    assert "another scheduler is already running" in result.stderr and str(os.getpid()) in result.stderr
    assert "Traceback" not in result.stderr


async def test_unknown_host_key_is_refused_and_shown(tmp_path: Path, openssh_server: OpenSSHServer) -> None:
    openssh_server.known_hosts_path.write_text("")  # the operator never added this host's key
    home = SluiceHome(tmp_path, openssh_server.node_toml("n1", workdir=str(tmp_path / "worker")))
    home.add_job("quick", 'command = "echo hi"\n')
    await home.start_scheduler()
    try:
        run_id = await home.submit("quick")
        deadline = time.monotonic() + 15
        while True:
            nodes = (await home.cli_json("nodes"))["nodes"]
            if nodes[0]["state"] == "refused" or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        runs = (await home.cli_json("runs"))["runs"]
    finally:
        await home.stop_scheduler()
    assert nodes[0]["state"] == "refused"
    assert "host key refused" in nodes[0]["last_error"] and "ssh-keyscan" in nodes[0]["last_error"]
    assert not list((tmp_path / "worker").rglob("job.sh")), "nothing may run on a host whose key is unknown"
    assert runs[0]["id"] == run_id and runs[0]["status"] in ("queued", "retry_wait")


async def test_failed_login_refuses_the_node_with_the_reason(tmp_path: Path, openssh_server: OpenSSHServer) -> None:
    stranger = tmp_path / "stranger_key"
    keygen = await asyncio.create_subprocess_exec("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger),
                                                  stdout=asyncio.subprocess.DEVNULL)
    assert await keygen.wait() == 0
    table = openssh_server.node_toml("n1", workdir=str(tmp_path / "worker"))
    table = table.replace(str(openssh_server.client_key_path), str(stranger))
    home = SluiceHome(tmp_path, table)
    home.add_job("quick", 'command = "echo hi"\n')
    await home.start_scheduler()
    try:
        await home.submit("quick")
        for _ in range(75):
            node = (await home.cli_json("nodes"))["nodes"][0]
            if node["state"] == "refused":
                break
            await asyncio.sleep(0.2)
    finally:
        await home.stop_scheduler()
    assert node["state"] == "refused"
    assert "login refused" in node["last_error"] and "authorized_keys" in node["last_error"]
    events = (await home.cli_json("events", "--kind", "node_refused"))["events"]
    assert events and "login refused" in events[0]["detail"]
