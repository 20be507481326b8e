"""The real `sluice demo` in tmux at 80x24 and 120x35: its first screen reads running, waiting and ended runs by
job name, the failure first among the ended."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TMUX = shutil.which("tmux")
DEMO_JOBS = {
    "hello",
    "daily_report",
    "long_export",
    "flaky_sync",
    "doomed_migration",
    "etl_extract",
    "etl_transform",
    "etl_load",
}
#: Generous: the demo starts three SSH workers, a scheduler and the console on a loaded two-core machine.
DEADLINE = 120.0

pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")


def _tmux(socket: str, *args: str) -> subprocess.CompletedProcess[str]:
    assert TMUX is not None
    return subprocess.run(
        [TMUX, "-L", socket, *args], capture_output=True, text=True, timeout=30, check=False
    )


def _sluice(*args: str) -> list[str]:
    return [sys.executable, "-m", "console.main", *args]


def _sections(screen: str) -> dict[str, list[str]]:
    """The job names of the run rows under each of the overview's section titles."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in screen.splitlines():
        title = line.split(" ", 1)[0]
        if title in ("Running", "Waiting", "Ended"):
            current = found.setdefault(title, [])
        elif current is not None and line.startswith("  ") and line.split():
            current.append(line)
        else:
            current = None
    return found


def _job(row: str) -> str:
    return row.split()[0]


def _readable(screen: str) -> bool:
    sections = _sections(screen)
    running, waiting, ended = (sections.get(title, []) for title in ("Running", "Waiting", "Ended"))
    return (
        any(_job(row) == "long_export" for row in running)
        and any(_job(row) in DEMO_JOBS for row in waiting)
        and bool(ended)
        and _job(ended[0]) == "doomed_migration"
        and "failed" in ended[0]
    )


def _submit_blocked_run(home: Path, env: dict[str, str]) -> None:
    """Once the demo has its jobs, submit a load whose upstream never ran: it waits as long as the test looks."""
    deadline = time.monotonic() + DEADLINE
    while not (home / "jobs" / "etl_load.toml").exists() or not (home / "sluice.db").exists():
        assert time.monotonic() < deadline, "the demo never wrote its home"
        time.sleep(0.2)
    result = subprocess.run(
        _sluice("submit", "--home", str(home), "etl_load", "-p", "day=2020-01-01"),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.timeout(300)
@pytest.mark.parametrize("size", [(80, 24), (120, 35)], ids=["80x24", "120x35"])
def test_demo_overview_reads_running_waiting_and_ended_runs_by_job_name(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    socket = f"sluice-test-{os.getpid()}-{size[0]}"
    env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(REPO)}
    env.pop("NO_COLOR", None)
    command = shlex.join(
        [
            "env",
            "TERM=xterm-256color",
            f"PYTHONPATH={REPO}",
            *_sluice("demo", "--home", str(tmp_path / "demo")),
        ]
    )
    started = _tmux(
        socket, "new-session", "-d", "-x", str(size[0]), "-y", str(size[1]), "-c", str(REPO), command
    )
    assert started.returncode == 0, started.stderr
    screen = ""
    try:
        _submit_blocked_run(tmp_path / "demo" / "home", env)
        deadline = time.monotonic() + DEADLINE
        while not _readable(screen):
            assert time.monotonic() < deadline, f"the overview never showed all three kinds of run:\n{screen}"
            time.sleep(0.5)
            screen = _tmux(socket, "capture-pane", "-p").stdout
        lines = screen.splitlines()
        assert len(lines) <= size[1] and all(len(line) <= size[0] for line in lines)
        _tmux(socket, "send-keys", "q")
        deadline = time.monotonic() + 30
        while _tmux(socket, "has-session").returncode == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        _tmux(socket, "kill-server")
