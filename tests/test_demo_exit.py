"""However the demo ends (Ctrl-C, SIGTERM, SIGKILL, a crash), its jobs die with it and its throwaway home goes
(a demo that finishes: test_demo.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from demo_processes import fleet_alive, long_export_fleet, wait_for

from console.demo.reaper import reap
from scheduler.failpoints import CRASH_STATUS
from scheduler.failpoints import ENV as CRASH_ENV

#: The demo function with a 5-minute export, as `sluice demo --no-console [--home DIR]` runs it.
DRIVER = """
import sys
from pathlib import Path
from console.demo.demo import run_demo
raise SystemExit(run_demo(Path(sys.argv[1]) if len(sys.argv) > 1 else None, console=False, long_chunks=300))
"""


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start the demo function in its own process, TMPDIR in tmp_path so its throwaway home is found there."""
    started: list[subprocess.Popen[str]] = []
    fleets: list[str] = []

    def start(*args: str, crash_at: str = "") -> subprocess.Popen[str]:
        (tmp_path / "tmp").mkdir(exist_ok=True)
        env = {**os.environ, "TMPDIR": str(tmp_path / "tmp"), "PYTHONUNBUFFERED": "1", CRASH_ENV: crash_at}
        process = subprocess.Popen(
            [sys.executable, "-c", DRIVER, *args],
            env=env,
            text=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        started.append(process)
        wait_for(
            lambda: long_export_fleet(tmp_path) is not None or process.poll() is not None,
            "the long export runs",
        )
        assert process.poll() is None, process.communicate()
        fleet = long_export_fleet(tmp_path)
        assert fleet is not None
        fleets.append(fleet)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate()
    for fleet in fleets:
        reap(fleet)  # a failed test leaves no job behind either


@pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda signum: signum.name
)
def test_a_signalled_demo_kills_its_jobs_and_removes_its_throwaway_home(
    demo: Callable[..., subprocess.Popen[str]], tmp_path: Path, signum: signal.Signals
) -> None:
    process = demo()
    fleet = long_export_fleet(tmp_path)
    assert fleet is not None
    [root] = (tmp_path / "tmp").glob("sluice-demo-*")
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    wait_for(lambda: not fleet_alive(fleet), "no job of the demo's fleet is left")
    wait_for(lambda: not root.exists(), "the throwaway home is removed")
    assert list((tmp_path / "tmp").iterdir()) == []
    if signum != signal.SIGKILL:
        assert "Traceback" not in err, err
        assert process.returncode == 128 + signum
        assert f"removed the demo's folder {root}" in out
        assert "--home DIR" in out


def test_a_demo_that_crashes_leaves_no_job_and_no_home_behind(
    demo: Callable[..., subprocess.Popen[str]], tmp_path: Path
) -> None:
    # The in-process scheduler dies like a SIGKILL (os._exit, no finally) at a launch after the long export's.
    process = demo(crash_at="launch_answered:14")
    fleet = long_export_fleet(tmp_path)
    assert fleet is not None
    assert process.wait(120) == CRASH_STATUS
    wait_for(lambda: not fleet_alive(fleet), "no job of the demo's fleet is left")
    wait_for(lambda: not any((tmp_path / "tmp").iterdir()), "the throwaway home is removed")


def test_a_demo_with_its_own_home_keeps_it_and_says_where(
    demo: Callable[..., subprocess.Popen[str]], tmp_path: Path
) -> None:
    root = tmp_path / "mine"
    process = demo(str(root))
    fleet = long_export_fleet(tmp_path)
    assert fleet is not None
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, err
    wait_for(lambda: not fleet_alive(fleet), "no job of the demo's fleet is left")
    assert (root / "home").is_dir()
    assert f"kept the demo's folder {root}" in out
    assert f"--home {root / 'home'}" in out

