"""The stdout marker protocol: `::checkpoint::VALUE` and `::progress::DONE/TOTAL [MESSAGE]` lines.

Markers are read from complete lines only, and `scan_lines` reports the stream offset just after the
last complete line. The caller stores that offset and scans again from it, so a marker split across
two reads, or read again after a reconnect, is counted exactly once.

Limits: a checkpoint value longer than MAX_CHECKPOINT_BYTES is cut to that many bytes (at a UTF-8
character boundary) and still counted; a progress message is cut the same way at MAX_MESSAGE_BYTES.
Lines of any length are scanned without copying more than those limits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHECKPOINT_PREFIX = b"::checkpoint::"
PROGRESS_PREFIX = b"::progress::"
MAX_CHECKPOINT_BYTES = 64 * 1024
MAX_MESSAGE_BYTES = 4 * 1024

# Plain decimals only: float() would also take "nan", "inf", "1e308" and "1_000", none of which is a count.
_NUMBER = rb"(\d+(?:\.\d*)?|\.\d+)"
_PROGRESS = re.compile(_NUMBER + rb"/" + _NUMBER + rb"(?:[ \t]+(.*))?", re.DOTALL)
# The numbers and separator of a sane progress line fit in this; longer ones are malformed anyway.
_PROGRESS_HEAD_BYTES = 256


@dataclass(frozen=True)
class CheckpointMarker:
    """A `::checkpoint::VALUE` line; `offset` is where its line starts in the stream."""

    value: str
    offset: int


@dataclass(frozen=True)
class ProgressMarker:
    """A `::progress::DONE/TOTAL [MESSAGE]` line; `offset` is where its line starts in the stream."""

    done: float
    total: float
    message: str | None
    offset: int


Marker = CheckpointMarker | ProgressMarker


def scan_lines(data: bytes, base_offset: int) -> tuple[list[Marker], int]:
    """Markers in the complete lines of `data` (which starts at `base_offset`) and the offset after them."""
    markers: list[Marker] = []
    start = 0
    while True:
        newline = data.find(b"\n", start)
        if newline < 0:
            break
        end = newline - 1 if newline > start and data[newline - 1] == 0x0D else newline
        marker = _marker(data, start, end, base_offset + start)
        if marker is not None:
            markers.append(marker)
        start = newline + 1
    return markers, base_offset + start


def _marker(data: bytes, start: int, end: int, offset: int) -> Marker | None:
    """The marker on the line data[start:end] (terminator already removed), if it is one."""
    # startswith with bounds and slices capped at the limits keep a multi-megabyte line from being copied.
    if data.startswith(CHECKPOINT_PREFIX, start, end):
        value_start = start + len(CHECKPOINT_PREFIX)
        return CheckpointMarker(_decode_capped(data, value_start, end, MAX_CHECKPOINT_BYTES), offset)
    if data.startswith(PROGRESS_PREFIX, start, end):
        return _progress(data, start + len(PROGRESS_PREFIX), end, offset)
    return None


def _progress(data: bytes, start: int, end: int, offset: int) -> ProgressMarker | None:
    """A ProgressMarker from the text after the prefix, or None when malformed."""
    head = data[start : min(end, start + _PROGRESS_HEAD_BYTES)]
    match = _PROGRESS.match(head)
    if match is None:
        return None
    if match.group(3) is None and start + match.end() != end:
        # Something glued to TOTAL ("3/10x"), or numbers longer than the head: not a progress line.
        return None
    done, total = float(match.group(1)), float(match.group(2))
    if total <= 0:
        return None
    # done > total is kept: jobs estimate totals and overshoot, and showing that is the display's call.
    message = None
    if match.group(3) is not None:
        text = _decode_capped(data, start + match.start(3), end, MAX_MESSAGE_BYTES).strip()
        message = text or None
    return ProgressMarker(done, total, message, offset)


def _decode_capped(data: bytes, start: int, end: int, limit: int) -> str:
    """data[start:end] decoded as UTF-8 (errors replaced), cut to at most `limit` bytes at a character boundary."""
    if end - start > limit:
        cut = start + limit
        # Step back over continuation bytes (at most three in UTF-8) so the cut does not split a character.
        for _ in range(3):
            if data[cut] & 0xC0 != 0x80:
                break
            cut -= 1
        end = cut
    return data[start:end].decode("utf-8", errors="replace")
