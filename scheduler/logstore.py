"""The bastion's log store: one file per attempt and stream, appended at the offset the database records.

The database offset is the truth: before appending, a file is cut back to it, so bytes written before a crash
but never recorded are written again exactly once.

A file shorter than its recorded offset (someone cleaned HOME/logs) has lost bytes that can never come back:
the gap is written down in `STREAM.gaps` beside it ("START END" a line), filled (see `gap_filler`) and capture
goes on, so later bytes land at their own offsets. The gap stays reported by `append` until the offsets past it
are committed, so a pass that fails after filling still records it, exactly once.

When each chunk arrived is written down in `STREAM.arrivals` beside it ("OFFSET TIME" a line, one per appended
chunk, so it grows with the polls that brought output, not with the lines). A chunk written again at an offset
(after a crash) supersedes the entries at or past that offset: readers keep the last word (see `arrivals`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .models import Arrival, merge_arrivals

STREAMS = ("stdout", "stderr")


@dataclass(frozen=True)
class Gap:
    """Bytes [start, end) of a stream that were lost on the bastion and are filled in."""

    start: int
    end: int

    @property
    def missing(self) -> int:
        return self.end - self.start


class LogStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, run_id: int, attempt: int, stream: str) -> Path:
        if stream not in STREAMS:
            raise ValueError(f"unknown stream {stream!r}")
        return self.root / str(run_id) / str(attempt) / stream

    def append(self, run_id: int, attempt: int, stream: str, offset: int, data: bytes,
               at: str | None = None) -> Gap | None:
        """Write `data` at `offset`, cutting any unrecorded tail first, and fsync before the offset is committed.

        `at` (when given) is noted as the chunk's arrival time. Returns the gap that ends at `offset` (found now,
        or by an earlier try whose offsets never committed)."""
        path = self.path(run_id, attempt, stream)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size < offset:
                filled = Gap(size, offset)
                self._note_gap(path, filled)
                gap: Gap | None = filled
                _fill(fd, size, offset)
            else:
                gap = self._gap_ending_at(path, offset)
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
        if at is not None and data:
            _note_arrival(path, offset, at)
        return gap

    def arrivals(self, run_id: int, attempt: int, stream: str, start: int = 0) -> tuple[list[Arrival], int]:
        """The arrivals noted from byte `start` of the stream's arrivals file, and where the next read starts."""
        try:
            with open(_arrivals_path(self.path(run_id, attempt, stream)), "rb") as handle:
                handle.seek(start)
                data = handle.read()
        except FileNotFoundError:
            return [], start
        complete = data[: data.rfind(b"\n") + 1]  # a line half written by a crash is not read (yet)
        return merge_arrivals([], _parse_arrivals(complete)), start + len(complete)

    def gaps(self, run_id: int, attempt: int, stream: str) -> list[Gap]:
        """The stream's recorded gaps, in order."""
        return _read_gaps(self.path(run_id, attempt, stream))

    @staticmethod
    def _note_gap(path: Path, gap: Gap) -> None:
        """Write the gap down (durably, before the filler) over any gaps it swallowed."""
        kept = [old for old in _read_gaps(path) if old.end <= gap.start]
        text = "".join(f"{g.start} {g.end}\n" for g in [*kept, gap])
        tmp = _gaps_path(path).with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, text.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, _gaps_path(path))

    @staticmethod
    def _gap_ending_at(path: Path, offset: int) -> Gap | None:
        if not _gaps_path(path).exists():
            return None
        return next((gap for gap in _read_gaps(path) if gap.end == offset), None)

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


def _note_arrival(path: Path, offset: int, at: str) -> None:
    # One short O_APPEND write, fsynced with the bytes it dates: a crash loses at most the last entry.
    fd = os.open(_arrivals_path(path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, f"{offset} {at}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _parse_arrivals(data: bytes) -> list[Arrival]:
    found = []
    for line in data.decode("ascii", "replace").splitlines():
        offset, _, at = line.partition(" ")
        if offset.isdigit() and at:
            found.append(Arrival(int(offset), at))
    return found


def _arrivals_path(path: Path) -> Path:
    return path.with_name(path.name + ".arrivals")


def _gaps_path(path: Path) -> Path:
    return path.with_name(path.name + ".gaps")


def _read_gaps(path: Path) -> list[Gap]:
    try:
        text = _gaps_path(path).read_text()
    except FileNotFoundError:
        return []
    return [Gap(int(start), int(end)) for start, end in (line.split() for line in text.splitlines() if line)]


def _fill(fd: int, start: int, end: int) -> None:
    """Fill [start, end) with `gap_filler`: extending the file makes the NULs (sparse, so a huge gap costs no disk)."""
    os.ftruncate(fd, end)
    filler = gap_filler(end - start)
    note = filler.lstrip(b"\0")
    if note:
        os.pwrite(fd, note, end - len(note))


def gap_filler(missing: int) -> bytes:
    """What stands in for `missing` bytes lost on the bastion: NUL bytes, ending in a note line when it fits."""
    note = b"\n[sluice: %d bytes of this log were lost on the bastion]\n" % missing
    if missing < len(note):
        return b"\0" * missing
    return b"\0" * (missing - len(note)) + note
