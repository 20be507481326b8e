"""One line per run of the overview's run board: running, waiting or ended, laid out for the terminal's width."""

from __future__ import annotations

from datetime import datetime

from rich.style import Style
from rich.text import Text

from scheduler.models import Attempt, Run, from_iso
from scheduler.states import DEAD_LETTERS

from ..format import duration_text, elapsed, progress_fraction, status_style
from .progress_line import bar_text

#: Width of the status column and of the right-aligned runtime / "ended … ago" column.
STATUS_WIDTH = 10
TIME_WIDTH = 10


def _widths(width: int) -> tuple[int, int, int]:
    """(job, partition, node) column widths: job names get most of a wide terminal."""
    job = max(14, min(28, width // 5))
    partition = 10 if width < 100 else 13  # 13 holds an hourly partition (2026-12-01T10)
    node = max(8, min(12, width // 10))
    return job, partition, node


def _cell(text: str, size: int) -> str:
    return text[: max(0, size - 1)] + "…" if len(text) > size else text.ljust(size)


def _start(run: Run, width: int) -> Text:
    job, partition, _ = _widths(width)
    line = Text("  ")
    line.append(_cell(run.job, job) + " ", style="bold")
    line.append(_cell(run.partition or "", partition) + " ")
    return line


def _finish(line: Text, width: int) -> Text:
    line.truncate(width, pad=True)
    return line


def running_row(run: Run, why: str | None, attempt: Attempt | None, now: datetime, width: int) -> Text:
    """Job, partition, node, a progress bar (or why its node does not answer), runtime."""
    _, _, node = _widths(width)
    line = _start(run, width)
    line.append(_cell(run.node or "", node) + " ")
    middle = max(0, width - line.cell_len - TIME_WIDTH - 1)
    fraction = progress_fraction(attempt)
    if why:
        line.append(_cell(why, middle), style="yellow")
    elif fraction is not None:
        bar = bar_text(fraction, middle, attempt.progress_message or "" if attempt else "")
        bar.truncate(middle, pad=True)
        line.append_text(bar)
    else:
        line.append(" " * middle)
    line.append(" " + duration_text(elapsed(run.started_at, None, now)).rjust(TIME_WIDTH))
    return _finish(line, width)


def waiting_row(run: Run, why: str, width: int) -> Text:
    """Job, partition, status, and the one-line why it is not running."""
    line = _start(run, width)
    line.append(_cell(run.status, STATUS_WIDTH) + " ", style=Style.parse(status_style(run.status)))
    line.append(why, style="dim")
    return _finish(line, width)


def ended_row(run: Run, why: str, now: datetime, width: int) -> Text:
    """Job, partition, status, how long ago it ended, and why (a failure's reason, else how long it took)."""
    line = _start(run, width)
    line.append(_cell(run.status, STATUS_WIDTH) + " ", style=Style.parse(status_style(run.status)))
    ended = from_iso(run.ended_at)
    ago = f"{duration_text((now - ended).total_seconds())} ago" if ended is not None else "-"
    line.append(ago.rjust(TIME_WIDTH) + "  ", style="dim")
    if not why:
        why = f"took {duration_text(elapsed(run.started_at, run.ended_at, now))}" if run.started_at else ""
    line.append(why, style="red" if run.status in DEAD_LETTERS else "dim")
    return _finish(line, width)
