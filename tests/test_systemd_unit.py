"""`sluice systemd-unit` prints a unit systemd accepts, that starts the scheduler on this home and stops it without
touching the jobs on the workers; contrib/sluice-scheduler.service is the same unit for a system install."""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from console.cli.systemd import render_unit

REPO = Path(__file__).resolve().parent.parent
CONTRIB = REPO / "contrib" / "sluice-scheduler.service"


def sluice(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console.main", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONWARNINGS": "error"})


def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        if os.environ.get("SLUICE_REQUIRE_SSHD"):  # CI is Debian with systemd: the check must run there
            pytest.fail("systemd-analyze is not installed")
        pytest.skip("systemd-analyze is not installed")
    return path


def verify(unit_text: str, folder: Path, user: bool = False) -> list[str]:
    """systemd-analyze verify on the file itself; the lines it printed about the unit (warnings included)."""
    folder.mkdir(exist_ok=True)
    path = folder / "sluice-scheduler.service"
    path.write_text(unit_text)
    env = dict(os.environ)
    if user:  # a user manager needs a runtime folder; a container or CI job may have none
        env["XDG_RUNTIME_DIR"] = str(folder)
    # --man=no: Documentation= is not looked up; the file's own syntax and the ExecStart binary are checked.
    result = subprocess.run([systemd_analyze(), *(["--user"] if user else []), "verify", "--man=no", str(path)],
                            capture_output=True, text=True, timeout=120, env=env)
    about_the_unit = [line for line in (result.stdout + result.stderr).splitlines()
                      if "sluice-scheduler" in line or str(folder) in line]
    assert result.returncode == 0, result.stderr
    return about_the_unit


def settings(unit_text: str) -> dict[str, str]:
    """Key=value lines of a unit (a later key wins; these units set each once)."""
    return dict(line.split("=", 1) for line in unit_text.splitlines() if "=" in line and not line.startswith("#"))


def test_printed_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = sluice("systemd-unit", "--home", str(home))
    assert result.returncode == 0, result.stderr
    assert verify(result.stdout, tmp_path / "unit") == []


def test_printed_unit_runs_this_sluice_on_this_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    unit = settings(sluice("--home", str(home), "systemd-unit").stdout)
    command = shlex.split(unit["ExecStart"])
    assert Path(command[0]).is_absolute() and os.access(command[0], os.X_OK)
    assert command[-3:] == ["scheduler", "--home", str(home)]


def test_stop_signals_only_the_scheduler_and_gives_it_time(tmp_path: Path) -> None:
    unit = settings(sluice("systemd-unit", "--home", str(tmp_path)).stdout)
    # mixed: SIGTERM to the scheduler alone, which stops dispatching and leaves the detached jobs running.
    assert unit["KillMode"] == "mixed" and unit["KillSignal"] == "SIGTERM"
    assert unit["Restart"] == "on-failure"
    assert unit["RestartPreventExitStatus"] == "2", "bad input (exit 2) is not fixed by restarting"
    assert int(unit["TimeoutStopSec"]) >= 10


def test_a_home_with_spaces_and_percent_signs_is_quoted_for_systemd(tmp_path: Path) -> None:
    home = tmp_path / "odd home 100%"
    result = sluice("systemd-unit", "--home", str(home))
    assert result.returncode == 0, result.stderr
    assert verify(result.stdout, tmp_path / "unit") == []
    exec_start = settings(result.stdout)["ExecStart"]
    assert shlex.split(exec_start.replace("%%", "%"))[-1] == str(home)


def test_user_unit_passes_verify_in_user_mode(tmp_path: Path) -> None:
    result = sluice("systemd-unit", "--user", "--home", str(tmp_path / "home"))
    assert result.returncode == 0, result.stderr
    unit = settings(result.stdout)
    assert "User" not in unit and unit["WantedBy"] == "default.target"
    assert verify(result.stdout, tmp_path / "unit", user=True) == []


def test_contrib_unit_is_the_rendered_system_unit() -> None:
    assert CONTRIB.read_text() == render_unit(["/usr/local/bin/sluice"], Path("/var/lib/sluice"), None,
                                              user="sluice")


def test_contrib_unit_passes_verify_with_this_machines_paths(tmp_path: Path) -> None:
    here = shlex.split(settings(sluice("systemd-unit", "--home", str(tmp_path)).stdout)["ExecStart"])[0]
    me = pwd.getpwuid(os.geteuid()).pw_name
    text = CONTRIB.read_text().replace("/usr/local/bin/sluice", here).replace("User=sluice", f"User={me}")
    assert verify(text, tmp_path / "unit") == []


def test_a_home_with_a_newline_is_refused() -> None:
    result = sluice("systemd-unit", "--home", "/tmp/a\nb")
    assert result.returncode == 2
    assert "--home" in result.stderr and "Traceback" not in result.stderr
