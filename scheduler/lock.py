"""Exactly one scheduler per home: an exclusive flock on HOME/scheduler.lock, released by the OS on any exit."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from .errors import SchedulerAlreadyRunning


class SchedulerLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise SchedulerAlreadyRunning(
                f"another scheduler is already running for {self.path.parent} (pid {holder}); "
                "stop it first, or use another --home"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
