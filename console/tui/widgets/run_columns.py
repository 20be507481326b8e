"""Column layout of a runs row, shared by the runs table and its header so both line up at any width.

Each column is as wide as its longest value among the rows loaded (within its bounds), so short job names leave
their room to WHY and an hourly partition key shows whole; WHY takes what is left. The wide layout (`W`) adds
WIDE_COLUMNS and drops nothing: their room comes from WHY."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from rich.style import Style
from rich.text import Text

from scheduler.models import Run

from ..format import duration_text, elapsed, short_time, status_style

#: (title, least, most) in display order: a column's width is its longest value, kept within these bounds.
#: CREATED holds "11-23 11:00 CET", or "+0545" as the zone.
COLUMNS = (
    ("ID", 2, 9),
    ("JOB", 3, 32),
    ("PARTITION", 13, 25),
    ("STATUS", 6, 10),
    ("NODE", 4, 16),
    ("#", 1, 3),
    ("CREATED", 15, 17),
)
#: Shown after CREATED in the wide layout only.
WIDE_COLUMNS = (
    ("QUEUE", 5, 16),
    ("PRIO", 4, 5),
    ("BACKFILL", 8, 8),
    ("RUNTIME", 7, 9),
    ("EXIT", 4, 4),
)
#: Left out, in this order, when WHY would get less than MIN_WHY.
OPTIONAL = ("CREATED", "#")
#: Shrunk towards their least, widest first, when WHY would still get less than MIN_WHY.
SHRINKABLE = ("JOB", "NODE", "PARTITION")
MIN_WHY = 16
#: Longest value per column title (the content the widths fit).
ContentWidths = Mapping[str, int]
#: The sort marks after a column's title: ascending, descending.
SORT_MARKS = {False: "▲", True: "▼"}


@dataclass(frozen=True)
class ColumnView:
    """How the operator asked to see the columns (the same for the header and every row)."""

    #: The wide layout: every column, WHY gives up the room.
    wide: bool = False
    #: (column title, descending) of the sort the operator chose, marked in the header; None for the default.
    sort: tuple[str, bool] | None = None
    #: The time a running run's RUNTIME counts to.
    now: datetime | None = None


def values(run: Run, why: str, now: datetime | None = None) -> dict[str, str]:
    """The text of each column for `run` (RUNTIME counts to `now`; blank without it)."""
    runtime = elapsed(run.started_at, run.ended_at, now) if now is not None else None
    return {
        "ID": str(run.id),
        "JOB": run.job,
        "PARTITION": run.partition or "",
        "STATUS": run.status,
        "NODE": run.node or "",
        "#": str(run.attempt) if run.attempt else "",
        "CREATED": short_time(run.created_at),
        "QUEUE": run.queue,
        "PRIO": str(run.priority),
        "BACKFILL": str(run.backfill_id) if run.backfill_id is not None else "",
        "RUNTIME": duration_text(runtime) if runtime is not None else "",
        "EXIT": str(run.exit_code) if run.exit_code is not None else "",
        "WHY": why,
    }


def content_widths(runs: Iterable[Run], now: datetime | None = None) -> dict[str, int]:
    """The longest value of each column among `runs` (WHY is not fitted: it takes the rest)."""
    longest: dict[str, int] = {}
    for run in runs:
        for title, text in values(run, "", now).items():
            longest[title] = max(longest.get(title, 0), len(text))
    return longest


def _shown(view: ColumnView) -> list[tuple[str, int, int]]:
    """(title, least, most) of the columns shown: the wide ones on `W`, RUNTIME alone when sorted by it."""
    if view.wide:
        return [*COLUMNS, *WIDE_COLUMNS]
    sorted_by = view.sort[0] if view.sort is not None else None
    return [*COLUMNS, *(column for column in WIDE_COLUMNS if column[0] == sorted_by)]


def _titles(view: ColumnView) -> dict[str, str]:
    """Each shown column's title, the sorted one with its mark."""
    shown = _shown(view)
    titles = {title: title for title, _, _ in shown}
    if view.sort is not None and view.sort[0] in titles:
        titles[view.sort[0]] += SORT_MARKS[view.sort[1]]
    return titles


def _widths(width: int, content: ContentWidths, view: ColumnView) -> list[tuple[str, int]]:
    shown = _shown(view)
    bounds = {title: (least, most) for title, least, most in shown}
    titles = _titles(view)
    columns = {title: max(len(titles[title]), min(most, content.get(title, 0))) for title, _, most in shown}
    # Wide gives WHY's room to the other columns and nothing else: no column is dropped or shrunk.
    for dropped in () if view.wide else OPTIONAL:
        if width - _used(columns) >= MIN_WHY:
            break
        del columns[dropped]
    while not view.wide and width - _used(columns) < MIN_WHY:
        title = max(SHRINKABLE, key=lambda name: columns[name] - bounds[name][0])
        if columns[title] <= bounds[title][0]:
            break
        columns[title] -= 1
    return [*columns.items(), ("WHY", max(MIN_WHY, width - _used(columns)))]


def _used(columns: dict[str, int]) -> int:
    """Cells taken by the tag mark and `columns` with their separators."""
    return 2 + sum(size + 1 for size in columns.values())


def _cell(text: str, size: int) -> str:
    if len(text) > size:
        return text[: max(0, size - 1)] + "…"
    return text.ljust(size)


def header_text(width: int, content: ContentWidths | None = None, view: ColumnView = ColumnView()) -> Text:
    titles = _titles(view)
    line = Text("  ", style="bold")
    for title, size in _widths(width, content or {}, view):
        line.append(_cell(titles.get(title, title), size) + " ")
    line.truncate(width)
    return line


def row_text(run: Run, why: str, width: int, tagged: bool, content: ContentWidths | None = None,
             view: ColumnView = ColumnView()) -> Text:
    """One row laid out for `content` (the widths of the rows shown with it; this row alone if None)."""
    cells = values(run, why, view.now)
    line = Text("● " if tagged else "  ", style="bold magenta" if tagged else "")
    for title, size in _widths(width, content if content is not None else content_widths([run], view.now), view):
        style = status_style(run.status) if title == "STATUS" else ("dim" if title == "WHY" else "")
        line.append(_cell(cells[title], size) + " ", style=Style.parse(style) if style else None)
    line.truncate(width, pad=True)
    return line
