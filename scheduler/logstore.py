"""The bastion's log store: one file per attempt and stream, appended at the offset the database records.

The database offset is the truth: before appending, a file is cut back to it, so bytes written before a crash
but never recorded are written again exactly once."""

from __future__ import annotations

import os
from pathlib import Path

STREAMS = ("stdout", "stderr")


class LogStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, run_id: int, attempt: int, stream: str) -> Path:
        if stream not in STREAMS:
            raise ValueError(f"unknown stream {stream!r}")
        return self.root / str(run_id) / str(attempt) / stream

    def append(self, run_id: int, attempt: int, stream: str, offset: int, data: bytes) -> None:
        """Write `data` at `offset`, cutting any unrecorded tail first, and fsync before the offset is committed."""
        path = self.path(run_id, attempt, stream)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size < offset:
                raise OSError(f"{path} holds {size} bytes but the store recorded {offset}: log file was truncated")
            if size > offset:
                os.ftruncate(fd, offset)
            os.lseek(fd, offset, os.SEEK_SET)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self, run_id: int, attempt: int, stream: str, offset: int = 0, size: int = -1) -> bytes:
        path = self.path(run_id, attempt, stream)
        try:
            with open(path, "rb") as handle:
                handle.seek(offset)
                return handle.read(size)
        except FileNotFoundError:
            return b""

    def size(self, run_id: int, attempt: int, stream: str) -> int:
        try:
            return self.path(run_id, attempt, stream).stat().st_size
        except FileNotFoundError:
            return 0

    def tail(self, run_id: int, attempt: int, stream: str, lines: int, limit: int, max_bytes: int = 1 << 20) -> bytes:
        """The last `lines` lines of the first `limit` bytes, reading backwards so a 1 GB log costs no more."""
        path = self.path(run_id, attempt, stream)
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            return b""
        with handle:
            end = min(limit, os.fstat(handle.fileno()).st_size)
            start, data = end, b""
            while start > 0 and data.count(b"\n") <= lines and end - start < max_bytes:
                step = min(65536, start)
                start -= step
                handle.seek(start)
                data = handle.read(step) + data
            if data.endswith(b"\n"):
                body = data[:-1].split(b"\n")[-lines:]
                return b"\n".join(body) + b"\n"
            return b"\n".join(data.split(b"\n")[-lines:])
