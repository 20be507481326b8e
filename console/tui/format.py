"""Plain-text formatting shared by screens: status colours, times, durations, why a run ended, progress."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from scheduler.models import Attempt, Run, from_iso
from scheduler.states import (
    ATTEMPT_ENDED,
    ENDED,
    AttemptStatus,
    BackfillStatus,
    EndReason,
    KillReason,
    NodeState,
    RunStatus,
    ordered,
)
from scheduler.states import DEAD_LETTERS as DEAD_LETTER_SET
from scheduler.states import WAITING as WAITING_SET

from ..timefmt import shown

#: Rich styles per run or attempt status (the two share running, succeeded, failed, cancelled and timed_out);
#: named ANSI colours so 256-colour terminals and tmux render them.
STATUS_STYLES: dict[str, str] = {
    RunStatus.QUEUED: "yellow",
    RunStatus.RUNNING: "bold cyan",
    RunStatus.RETRY_WAIT: "magenta",
    RunStatus.SUCCEEDED: "green",
    RunStatus.FAILED: "bold red",
    RunStatus.CANCELLED: "bright_black",
    RunStatus.TIMED_OUT: "red",
    AttemptStatus.STARTING: "cyan",
    AttemptStatus.LOST: "red",
    AttemptStatus.YIELDED: "blue",
    AttemptStatus.PREEMPTED: "blue",  # like a yield: the run goes on from its checkpoint
}

#: One-cell glyphs for the partition grid, per run status (a fallback for monochrome terminals).
STATUS_GLYPHS: dict[str, str] = {
    RunStatus.QUEUED: "·",
    RunStatus.RUNNING: "▶",
    RunStatus.RETRY_WAIT: "↻",
    RunStatus.SUCCEEDED: "■",
    RunStatus.FAILED: "✗",
    RunStatus.CANCELLED: "-",
    RunStatus.TIMED_OUT: "⌛",
}

#: The groups of scheduler.states in the order of RunStatus, so filters and counts read the same every time.
DEAD_LETTERS: tuple[RunStatus, ...] = ordered(DEAD_LETTER_SET)
WAITING: tuple[RunStatus, ...] = ordered(WAITING_SET)

#: Colours of backfill and node states.
BACKFILL_STYLES: dict[str, str] = {BackfillStatus.ACTIVE: "cyan", BackfillStatus.PAUSED: "yellow",
                                   BackfillStatus.CANCELLED: "bright_black", BackfillStatus.DONE: "green"}
NODE_STYLES: dict[str, str] = {NodeState.UP: "green", NodeState.DOWN: "bold red", NodeState.REFUSED: "bold red",
                               NodeState.DRAINED: "yellow", NodeState.QUARANTINED: "bold magenta",
                               NodeState.UNKNOWN: "dim"}


def count_of(counts: dict[str, int], statuses: Iterable[str]) -> int:
    """How many runs of per-status `counts` are in one of `statuses`."""
    return sum(counts.get(status, 0) for status in statuses)


def status_style(status: str) -> str:
    return STATUS_STYLES.get(status, "")


def clock_time(iso: str | None) -> str:
    """HH:MM:SS and the zone of a stored time, in the operator's zone (as the CLI shows it), or a dash."""
    return shown(iso, "clock")


def short_time(iso: str | None) -> str:
    """MM-DD HH:MM and the zone of a stored time, in the operator's zone (as the CLI shows it), or a dash."""
    return shown(iso, "short")


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    return f"{hours // 24}d{hours % 24:02d}h"


def elapsed(start: str | None, end: str | None, now: datetime) -> float | None:
    began = from_iso(start)
    if began is None:
        return None
    finished = from_iso(end) or now
    return max(0.0, (finished - began).total_seconds())


def size_text(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def attempt_outcome(attempt: Attempt) -> str:
    """Why an attempt ended, in plain words: exit code and signal, timeout, cancel, node lost, launch, logs."""
    if attempt.status not in ATTEMPT_ENDED:
        return f"running on {attempt.node}"
    words: dict[str, str] = {
        EndReason.TIMEOUT: "timed out",
        EndReason.CANCELLED: f"cancelled{_by(attempt.kill_reason)}",
        EndReason.NODE_LOST: f"node {attempt.node} lost",
        EndReason.LAUNCH_FAILED: "could not be launched",
        EndReason.NOT_SENT: f"launch never reached {attempt.node}",
        EndReason.VANISHED: f"gone from {attempt.node} without an exit code",
        EndReason.PREEMPTED: f"preempted (node {attempt.node} drained)",
        EndReason.CHECKPOINT_YIELD: "yielded at a checkpoint",
    }
    reason = attempt.reason or ""
    if reason in words:
        text = words[reason]
    elif attempt.exit_code is not None and attempt.exit_code > 128:
        text = f"killed by signal {attempt.exit_code - 128} (exit {attempt.exit_code})"
    elif attempt.exit_code is not None:
        text = f"exit {attempt.exit_code}"
    else:
        text = attempt.status
    if attempt.error:
        text += f": {attempt.error.splitlines()[0] if attempt.error.strip() else attempt.error}"
    if attempt.log_error:
        text += f" (log capture failed: {attempt.log_error})"
    return text


def _by(kill_reason: str | None) -> str:
    return f" ({kill_reason})" if kill_reason and kill_reason != KillReason.CANCELLED else ""


def run_why(run: Run, reasons: dict[int, str], attempts: dict[int, Attempt]) -> str:
    """The plain-words reason shown in a run's row: why it waits, or why its last attempt ended."""
    if run.id in reasons:
        return reasons[run.id]
    attempt = attempts.get(run.id)
    if run.status == RunStatus.RUNNING:
        if run.cancel_requested:
            return f"kill requested by {run.cancel_requested.get('by', '?')}"
        if attempt and attempt.progress_total:
            done = attempt.progress_done or 0
            return f"{done / attempt.progress_total:.0%} {attempt.progress_message or ''}".rstrip()
        return f"on {run.node}" if run.node else ""
    if run.status == RunStatus.CANCELLED and attempt is None:
        return "cancelled before it started"
    if attempt is not None and run.status != RunStatus.SUCCEEDED:
        return attempt_outcome(attempt)
    return ""


def progress_fraction(attempt: Attempt | None) -> float | None:
    if attempt is None or not attempt.progress_total:
        return None
    return max(0.0, min(1.0, (attempt.progress_done or 0) / attempt.progress_total))


def backfill_progress(counts: dict[str, int], planned: int) -> tuple[float | None, str]:
    """(fraction ended, "12/30 done · 3 running · 1 failed") for a backfill's run counts."""
    done = counts.get(RunStatus.SUCCEEDED, 0)
    failed = count_of(counts, DEAD_LETTERS)
    cancelled = counts.get(RunStatus.CANCELLED, 0)
    total = planned or sum(counts.values())
    fraction = count_of(counts, ENDED) / total if total else None
    parts = [f"{done}/{total} done"]
    if counts.get(RunStatus.RUNNING):
        parts.append(f"{counts[RunStatus.RUNNING]} running")
    if failed:
        parts.append(f"{failed} failed")
    if cancelled:
        parts.append(f"{cancelled} cancelled")
    return fraction, " · ".join(parts)
