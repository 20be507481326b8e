"""Start a scheduler for the console's home in the background, when the operator asks for one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from scheduler.home import Home

# The shell starts the scheduler as an orphaned background job and prints its pid, so the console waits for
# nothing and the scheduler outlives it (its own session: a closed terminal or SSH link does not stop it).
_LAUNCH = 'exec 0</dev/null; "$@" >>"$SLUICE_SCHEDULER_LOG" 2>&1 &\necho $!'


def scheduler_command(home: Home) -> list[str]:
    command = [sys.executable, "-m", "console.main", "scheduler", "--home", str(home.root)]
    if home.jobs_dir_override is not None:
        command += ["--jobs", str(home.jobs_dir_override)]
    return command


def log_path(home: Home) -> Path:
    return home.root / "scheduler.log"


def start_detached(command: list[str], log: Path) -> int:
    """Start `command` detached with its output appended to `log`; returns its pid. Blocking: call in a thread."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    launched = subprocess.run(
        ["/bin/sh", "-c", _LAUNCH, "sh", *command], capture_output=True, text=True, check=True,
        start_new_session=True, env={**os.environ, "SLUICE_SCHEDULER_LOG": str(log)},
    )
    return int(launched.stdout.strip())
