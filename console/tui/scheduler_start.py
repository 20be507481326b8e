"""Start a scheduler for the console's home in the background, when the operator asks for one, and see it up."""

from __future__ import annotations

import asyncio
import fcntl
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from textual.notifications import SeverityLevel

from scheduler.home import Home

# The shell starts the scheduler as an orphaned background job and prints its pid, so the console waits for
# nothing and the scheduler outlives it (its own session: a closed terminal or SSH link does not stop it).
# A small subshell stays its parent only to write "PID EXIT-CODE" to a file when it ends: the console is not
# its parent and could not learn why a scheduler that exits at once did so. The subshell closes the pipe the
# console reads the pid from before it waits.
_LAUNCH = """exec 0</dev/null
(
  "$@" >>"$SLUICE_SCHEDULER_LOG" 2>&1 &
  child=$!
  echo "$child"
  exec >/dev/null 2>&1
  wait "$child"
  echo "$child $?" >"$SLUICE_SCHEDULER_EXIT"
) &
"""

#: Seconds a new scheduler has to take the home's lock before the console stops watching for it.
START_TIMEOUT = 30.0
#: Seconds between two looks at the lock while a new scheduler starts.
START_POLL = 0.1


def scheduler_command(home: Home) -> list[str]:
    command = [sys.executable, "-m", "console.main", "scheduler", "--home", str(home.root)]
    if home.jobs_dir_override is not None:
        command += ["--jobs", str(home.jobs_dir_override)]
    return command


def log_path(home: Home) -> Path:
    return home.root / "scheduler.log"


def exit_path(home: Home) -> Path:
    return home.root / "scheduler.exit"


def lock_holder(lock_path: Path) -> str | None:
    """The pid (as text) of the process holding the scheduler lock, None when none holds it.

    The same test as `sluice scheduler` makes (an flock on the lock file), reading the pid the holder writes."""
    try:
        fd = os.open(lock_path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return os.read(fd, 64).decode(errors="replace").strip() or "unknown"
        return None
    finally:
        os.close(fd)


def start_detached(command: list[str], log: Path, exit_file: Path | None = None) -> int:
    """Start `command` detached with its output appended to `log`; returns its pid. Blocking: call in a thread."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    env = {**os.environ, "SLUICE_SCHEDULER_LOG": str(log), "SLUICE_SCHEDULER_EXIT": str(exit_file or os.devnull)}
    launched = subprocess.run(["/bin/sh", "-c", _LAUNCH, "sh", *command], capture_output=True, text=True,
                              check=True, start_new_session=True, env=env)
    return int(launched.stdout.strip())


@dataclass(frozen=True)
class StartOutcome:
    """What became of a scheduler the console started, as one notification."""

    message: str
    severity: SeverityLevel


def _exit_code(exit_file: Path, pid: int) -> str | None:
    """The exit code the launch shell wrote for `pid`, None while it runs (or before the shell wrote it)."""
    try:
        written, code = exit_file.read_text().split()
    except (FileNotFoundError, ValueError):
        return None
    return code if written == str(pid) else None


def _last_line(log: Path, offset: int) -> str:
    """The last non-blank line written to `log` after `offset` (its stdout and stderr both go there)."""
    try:
        with log.open("rb") as stream:
            stream.seek(offset)
            lines = stream.read().decode(errors="replace").splitlines()
    except FileNotFoundError:
        return "no output"
    return next((line.strip() for line in reversed(lines) if line.strip()), "no output")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def await_start(home: Home, pid: int, log_offset: int, timeout: float = START_TIMEOUT,
                      interval: float = START_POLL) -> StartOutcome:
    """Watch the scheduler `pid` until it holds the home's lock or exits, for at most `timeout` seconds."""
    log = log_path(home)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if lock_holder(home.lock_path) == str(pid):
            return StartOutcome(f"scheduler started (pid {pid}); its log: {log}", "information")
        code = _exit_code(exit_path(home), pid)
        if code is not None:
            return StartOutcome(f"the scheduler exited at once (exit code {code}): {_last_line(log, log_offset)}",
                                "error")
        if asyncio.get_running_loop().time() >= deadline:
            if _alive(pid):
                return StartOutcome(f"the scheduler (pid {pid}) has not taken the home's lock after {timeout:g}s; "
                                    f"see its log: {log}", "warning")
            return StartOutcome(f"the scheduler (pid {pid}) exited: {_last_line(log, log_offset)}", "error")
        await asyncio.sleep(interval)
