"""Column layout of a runs row, shared by the runs table and its header so both line up at any width."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from scheduler.models import Run

from ..format import short_time, status_style

# (title, width); WHY takes what is left.
FIXED_COLUMNS = (("ID", 7), ("JOB", 12), ("PARTITION", 10), ("STATUS", 10), ("NODE", 8), ("#", 2),
                 ("CREATED", 12))
WIDE_EXTRA = {"ID": 2, "JOB": 10, "PARTITION": 4, "NODE": 4}
MIN_WHY = 16


def _widths(width: int) -> list[tuple[str, int]]:
    columns = [(title, size + (WIDE_EXTRA.get(title, 0) if width >= 140 else 0)) for title, size in FIXED_COLUMNS]
    used = 2 + sum(size + 1 for _, size in columns)
    for dropped in ("CREATED", "#"):
        if width - used >= MIN_WHY:
            break
        columns = [(title, size) for title, size in columns if title != dropped]
        used = 2 + sum(size + 1 for _, size in columns)
    return [*columns, ("WHY", max(MIN_WHY, width - used))]


def _cell(text: str, size: int) -> str:
    if len(text) > size:
        return text[: max(0, size - 1)] + "…"
    return text.ljust(size)


def header_text(width: int) -> Text:
    line = Text("  ", style="bold")
    for title, size in _widths(width):
        line.append(_cell(title, size) + " ")
    line.truncate(width)
    return line


def row_text(run: Run, why: str, width: int, tagged: bool) -> Text:
    values = {
        "ID": str(run.id), "JOB": run.job, "PARTITION": run.partition or "", "STATUS": run.status,
        "NODE": run.node or "", "#": str(run.attempt) if run.attempt else "", "CREATED": short_time(run.created_at),
        "WHY": why,
    }
    line = Text("● " if tagged else "  ", style="bold magenta" if tagged else "")
    for title, size in _widths(width):
        style = status_style(run.status) if title == "STATUS" else ("dim" if title == "WHY" else "")
        line.append(_cell(values[title], size) + " ", style=Style.parse(style) if style else None)
    line.truncate(width, pad=True)
    return line
