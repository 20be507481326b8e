"""--home and --jobs are global: they work before the command as well as after it, and a conflict is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from scheduler.home import write_private


def sluice(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess, with exactly these arguments (no --home appended)."""
    return subprocess.run([sys.executable, "-m", "console.main", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONWARNINGS": "error", **(env or {})})


def test_home_before_the_command_creates_that_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = sluice("--home", str(home), "init")
    assert result.returncode == 0, result.stderr
    assert (home / "sluice.db").exists() and (home / "nodes.toml").exists()
    assert f"sluice home: {home}" in result.stdout


def test_home_before_and_after_the_command_read_the_same_store(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert sluice("init", "--home", str(home)).returncode == 0
    before = sluice("--home", str(home), "queues", "--json")
    after = sluice("queues", "--json", "--home", str(home))
    assert before.returncode == 0 and after.returncode == 0, before.stderr + after.stderr
    assert json.loads(before.stdout) == json.loads(after.stdout)


def test_jobs_before_the_command_is_the_jobs_folder(tmp_path: Path) -> None:
    home, jobs = tmp_path / "home", tmp_path / "elsewhere"
    assert sluice("--home", str(home), "init").returncode == 0
    jobs.mkdir(mode=0o700)
    write_private(jobs / "only_here.toml", 'name = "only_here"\ncommand = "true"\n')
    result = sluice("--jobs", str(jobs), "--home", str(home), "jobs", "--json")
    assert result.returncode == 0, result.stderr
    assert [job["name"] for job in json.loads(result.stdout)["jobs"]] == ["only_here"]


def test_the_same_home_on_both_sides_is_accepted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = sluice("--home", str(home), "init", "--home", str(home))
    assert result.returncode == 0, result.stderr
    assert (home / "sluice.db").exists()


def test_two_different_homes_are_refused_and_nothing_is_created(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    result = sluice("--home", str(first), "init", "--home", str(second))
    assert result.returncode == 2
    assert "--home" in result.stderr and str(first) in result.stderr and str(second) in result.stderr
    assert "Traceback" not in result.stderr
    assert not first.exists() and not second.exists()


def test_two_different_jobs_folders_are_refused(tmp_path: Path) -> None:
    result = sluice("--jobs", str(tmp_path / "a"), "jobs", "--jobs", str(tmp_path / "b"), "--home", str(tmp_path))
    assert result.returncode == 2
    assert "--jobs" in result.stderr and "Traceback" not in result.stderr


def test_a_global_option_the_command_does_not_take_is_refused(tmp_path: Path) -> None:
    result = sluice("--jobs", str(tmp_path / "jobs"), "demo", "--no-console")
    assert result.returncode == 2
    assert "--jobs" in result.stderr and "demo" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "jobs").exists()


def test_global_options_are_in_the_top_level_help() -> None:
    result = sluice("--help")
    assert result.returncode == 0
    assert "--home" in result.stdout and "--jobs" in result.stdout
