"""Turn log bytes into display lines, and lay lines out as wrapped rows. Pure functions, no widgets."""

from __future__ import annotations

# Control characters other than tab would move the terminal's cursor; show them as U+FFFD instead.
_CONTROL = {code: "\ufffd" for code in range(32) if code not in (9,)} | {127: "\ufffd"}


def split_lines(pending: bytes, data: bytes, final: bool) -> tuple[list[str], bytes]:
    """Complete lines in pending+data, and the incomplete tail to keep (flushed as a line when final)."""
    buffer = pending + data
    *complete, tail = buffer.split(b"\n")
    if final and tail:
        complete.append(tail)
        tail = b""
    return [decode_line(raw) for raw in complete], tail


def decode_line(raw: bytes) -> str:
    return raw.rstrip(b"\r").decode("utf-8", "replace").expandtabs(4).translate(_CONTROL)


def wrap_rows(lines: list[str], width: int, start: int = 0) -> list[tuple[int, int]]:
    """(line index, first column) of each screen row when lines from `start` wrap at `width`."""
    width = max(1, width)
    rows: list[tuple[int, int]] = []
    for index in range(start, len(lines)):
        length = len(lines[index])
        rows.extend((index, column) for column in range(0, max(1, length), width))
    return rows


def find_matches(lines: list[str], needle: str, start: int = 0) -> list[int]:
    """Indexes of lines (from `start`) containing `needle`, ignoring case."""
    lowered = needle.lower()
    return [index for index in range(start, len(lines)) if lowered in lines[index].lower()]
