"""`sluice scheduler` writes journald-friendly stderr: one line per event, no colour, and `<N>` priorities when
stderr is the journal stream systemd named in JOURNAL_STREAM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from pathlib import Path

from harness import SluiceHome
from sshd import OpenSSHServer

from console.cli.event_lines import event_priority
from console.cli.journal import ERR, INFO, NOTICE, WARNING
from scheduler.models import Event
from scheduler.states import EventKind, RunStatus

PRIORITY = re.compile(r"^<([0-7])>")


async def _run_scheduler(home: SluiceHome, log: Path, journal: bool, until: str, timeout: float = 60) -> list[str]:
    """The real scheduler with stderr to `log` (named as the journal stream if `journal`), until a stderr line
    holds `until`; then SIGTERM, and its stderr lines."""
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    env.pop("JOURNAL_STREAM", None)
    with open(log, "wb") as stderr:
        if journal:
            info = os.fstat(stderr.fileno())
            env["JOURNAL_STREAM"] = f"{info.st_dev}:{info.st_ino}"
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "console.main", "scheduler", "--home", str(home.home.root), "--poll-interval", "0.2",
            stdout=asyncio.subprocess.DEVNULL, stderr=stderr, env=env)
    try:
        deadline = time.monotonic() + timeout
        while until not in log.read_text():
            assert process.returncode is None, log.read_text()
            assert time.monotonic() < deadline, f"no {until!r} on stderr: {log.read_text()}"
            await asyncio.sleep(0.1)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 60) == 0, log.read_text()
    return log.read_text().splitlines()


def _line(lines: list[str], *words: str) -> str:
    return next(line for line in lines if all(word in line for word in words))


async def test_journal_lines_carry_the_event_priority(tmp_path: Path, openssh_server: OpenSSHServer) -> None:
    home = SluiceHome(tmp_path, openssh_server.node_toml("n1", workdir=str(tmp_path / "worker")))
    home.add_job("breaks", 'command = "exit 3"\n')
    run_id = await home.submit("breaks")
    lines = await _run_scheduler(home, tmp_path / "stderr", journal=True, until="-> failed")
    assert lines and all(PRIORITY.match(line) for line in lines), lines
    assert _line(lines, "attempt_ended", f"run {run_id}", "-> failed").startswith(f"<{ERR}>")
    assert _line(lines, "scheduler_started").startswith(f"<{INFO}>")
    assert _line(lines, "sluice scheduler: home").startswith(f"<{INFO}>")
    assert _line(lines, "stopped; running jobs were left running").startswith(f"<{INFO}>")
    assert not any("\x1b" in line for line in lines)


async def test_a_warning_is_marked_as_one(tmp_path: Path) -> None:
    home = SluiceHome(tmp_path, "")
    lines = await _run_scheduler(home, tmp_path / "stderr", journal=True, until="scheduler_started")
    assert _line(lines, "warning: no nodes").startswith(f"<{WARNING}>")


async def test_without_the_journal_lines_are_plain(tmp_path: Path) -> None:
    home = SluiceHome(tmp_path, "")
    lines = await _run_scheduler(home, tmp_path / "stderr", journal=False, until="scheduler_started")
    assert _line(lines, "scheduler_started") and _line(lines, "warning: no nodes")
    assert not any(PRIORITY.match(line) or "\x1b" in line for line in lines), lines


async def test_journal_stream_of_another_file_is_not_the_journal(tmp_path: Path) -> None:
    """A process whose stderr was redirected inherits JOURNAL_STREAM but no longer writes to the journal."""
    other = tmp_path / "elsewhere"
    other.write_text("")
    info = other.stat()
    os.environ["JOURNAL_STREAM"] = f"{info.st_dev}:{info.st_ino}"
    try:
        home = SluiceHome(tmp_path, "")
        env_lines = await _run_inheriting(home, tmp_path / "stderr")
    finally:
        del os.environ["JOURNAL_STREAM"]
    assert not any(PRIORITY.match(line) for line in env_lines), env_lines


async def _run_inheriting(home: SluiceHome, log: Path) -> list[str]:
    """The scheduler with the environment as it is (JOURNAL_STREAM included) and stderr to `log`."""
    with open(log, "wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "console.main", "scheduler", "--home", str(home.home.root),
            stdout=asyncio.subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + 60
    while "scheduler_started" not in log.read_text():
        assert process.returncode is None and time.monotonic() < deadline, log.read_text()
        await asyncio.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 60) == 0
    return log.read_text().splitlines()


def _event(kind: EventKind, new_status: RunStatus | None = None) -> Event:
    return Event(id=1, at="2026-12-02T10:00:00+00:00", run_id=None, attempt=None, kind=kind, old_status=None,
                 new_status=new_status, actor="scheduler", detail=None)


def test_event_priorities_follow_what_needs_attention() -> None:
    assert event_priority(_event(EventKind.ATTEMPT_ENDED, RunStatus.FAILED)) == ERR
    assert event_priority(_event(EventKind.SCHEDULER_ERROR)) == ERR
    assert event_priority(_event(EventKind.NODE_DOWN)) == WARNING
    assert event_priority(_event(EventKind.PROBE_FAILED)) == WARNING
    assert event_priority(_event(EventKind.CANCELLED, RunStatus.CANCELLED)) == NOTICE
    assert event_priority(_event(EventKind.ATTEMPT_ENDED, RunStatus.SUCCEEDED)) == INFO
    assert event_priority(_event(EventKind.SCHEDULER_STARTED)) == INFO
