"""Turn log bytes into display lines, and lay lines out as wrapped rows. Pure functions, no widgets."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from scheduler.markers import CHECKPOINT_PREFIX, PROGRESS_PREFIX
from scheduler.models import Arrival

#: How marker lines show: dimmed (protocol, not output), hidden (out of the way), or shown like any line.
MARKER_MODES = ("dimmed", "hidden", "shown")
MARKERS = (PROGRESS_PREFIX.decode(), CHECKPOINT_PREFIX.decode())

# Control characters other than tab would move the terminal's cursor; show them as U+FFFD instead.
_CONTROL = {code: "\ufffd" for code in range(32) if code not in (9,)} | {127: "\ufffd"}


def split_lines(pending: bytes, data: bytes, final: bool, base: int = 0) -> tuple[list[str], list[int], bytes]:
    """Complete lines in pending+data, the stream offset just past each, and the incomplete tail to keep
    (flushed as a line when final); `base` is the stream offset of pending's first byte."""
    buffer = pending + data
    *complete, tail = buffer.split(b"\n")
    ends, position = [], base
    for raw in complete:
        position += len(raw) + 1
        ends.append(position)
    if final and tail:
        complete.append(tail)
        ends.append(position + len(tail))
        tail = b""
    return [decode_line(raw) for raw in complete], ends, tail


def decode_line(raw: bytes) -> str:
    return raw.rstrip(b"\r").decode("utf-8", "replace").expandtabs(4).translate(_CONTROL)


def is_marker(line: str) -> bool:
    return line.startswith(MARKERS)


def wrap_rows(lines: list[str], width: int | None, start: int = 0, hide_markers: bool = False) -> list[tuple[int, int]]:
    """(line index, first column) of each screen row for lines from `start`: wrapped at `width` (None: not
    wrapped), marker lines left out when hidden, so rows map to lines however many are skipped."""
    rows: list[tuple[int, int]] = []
    for index in range(start, len(lines)):
        line = lines[index]
        if hide_markers and is_marker(line):
            continue
        if width is None:
            rows.append((index, 0))
        else:
            rows.extend((index, column) for column in range(0, max(1, len(line)), max(1, width)))
    return rows


def arrival_of(arrivals: Sequence[Arrival], offsets: Sequence[int], end: int) -> str | None:
    """When the line ending at stream offset `end` arrived: the time of the chunk that brought its last byte."""
    found = bisect_right(offsets, end - 1) - 1
    return arrivals[found].at if found >= 0 else None


def find_matches(lines: list[str], needle: str, start: int = 0) -> list[int]:
    """Indexes of lines (from `start`) containing `needle`, ignoring case."""
    lowered = needle.lower()
    return [index for index in range(start, len(lines)) if lowered in lines[index].lower()]
