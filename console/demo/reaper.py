"""Find and kill exactly the jobs one local fleet started, by the marker in their environment; and the watchdog.

Jobs run detached on the workers (their own session, reparented away from the fleet), so the fleet cannot
find them as its children: every command it runs gets `SLUICE_LOCALNODE_FLEET=<fleet id>` in its
environment, which the supervisor, the job and everything they start inherit.

Run as a script (`python reaper.py FLEET_ID [FOLDER]`) this is the demo's watchdog: it reads its stdin, a
pipe whose only writer is the demo, until EOF, which comes however the demo ends (even SIGKILL), then kills
the fleet's jobs and removes FOLDER. Standard library only, so it starts fast and imports nothing of the demo.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
import uuid
from pathlib import Path

MARKER = "SLUICE_LOCALNODE_FLEET"


def new_fleet_id() -> str:
    """A marker value no other fleet on this machine uses."""
    return f"f{uuid.uuid4().hex}"


def _marked(pid: int, entry: bytes) -> bool:
    try:
        return entry in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:  # gone, a zombie's is empty anyway, or another user's
        return False


def fleet_pids(fleet_id: str) -> list[int]:
    """The live processes whose environment holds this fleet's marker, exactly."""
    entry = f"{MARKER}={fleet_id}".encode()
    me = os.getpid()
    return [
        int(name)
        for name in os.listdir("/proc")
        if name.isdigit() and int(name) != me and _marked(int(name), entry)
    ]


def _kill(pid: int, entry: bytes) -> bool:
    """SIGKILL pid if it still carries entry; a pidfd pins the process so a reused pid is never hit."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return False
    try:
        if not _marked(pid, entry):
            return False
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        return True
    except OSError:
        return False
    finally:
        os.close(pidfd)


def reap(fleet_id: str, timeout: float = 10.0) -> int:
    """Kill every process of the fleet, looking again until none is left (a job may fork meanwhile)."""
    entry = f"{MARKER}={fleet_id}".encode()
    killed: set[int] = set()
    deadline = time.monotonic() + timeout
    while pids := fleet_pids(fleet_id):
        killed.update(pid for pid in pids if _kill(pid, entry))
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)  # SIGKILL is asynchronous: give the kernel a moment before looking again
    return len(killed)


def watch(fleet_id: str, folder: Path | None) -> None:
    """Wait for stdin's EOF (the demo is gone), then kill the fleet's jobs and remove folder."""
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)  # a closing terminal or a Ctrl-C must not stop the cleanup
    with contextlib.suppress(OSError):
        while os.read(0, 4096):
            pass
    reap(fleet_id)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    watch(sys.argv[1], Path(sys.argv[2]) if len(sys.argv) > 2 else None)
