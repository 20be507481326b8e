"""Column layout of a runs row, shared by the runs table and its header so both line up at any width."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from scheduler.models import Run

from ..format import short_time, status_style

# (title, width) at 80 columns; WHY takes what is left. CREATED holds "11-23 11:00 CET", or "+0545" as the zone.
FIXED_COLUMNS = (("ID", 7), ("JOB", 12), ("PARTITION", 10), ("STATUS", 10), ("NODE", 8), ("#", 2),
                 ("CREATED", 17))
#: How far each column may grow past its width on a wide terminal, in the order the room is handed out.
GROWTH = (("JOB", 18), ("PARTITION", 6), ("NODE", 6), ("ID", 2))
MIN_WHY = 16
#: WHY keeps this much before the other columns grow; past it, half of the spare room goes to them.
WHY_COMFORT = 30


def _widths(width: int) -> list[tuple[str, int]]:
    columns = dict(FIXED_COLUMNS)
    for dropped in ("CREATED", "#"):
        if width - _used(columns) >= MIN_WHY:
            break
        del columns[dropped]
    give = max(0, width - _used(columns) - WHY_COMFORT) // 2
    for title, most in GROWTH:
        grown = min(most, give)
        columns[title] += grown
        give -= grown
    return [*columns.items(), ("WHY", max(MIN_WHY, width - _used(columns)))]


def _used(columns: dict[str, int]) -> int:
    """Cells taken by the tag mark and `columns` with their separators."""
    return 2 + sum(size + 1 for size in columns.values())


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
