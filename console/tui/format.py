"""Plain-text formatting shared by screens: status colours, times, durations, why a run ended, backfill progress."""

from __future__ import annotations

from datetime import datetime

from scheduler.models import Attempt, Run, from_iso

#: Rich styles per run or attempt status; named ANSI colours so 256-colour terminals and tmux render them.
STATUS_STYLES: dict[str, str] = {
    "queued": "yellow",
    "running": "bold cyan",
    "retry_wait": "magenta",
    "succeeded": "green",
    "failed": "bold red",
    "cancelled": "bright_black",
    "timed_out": "red",
    "starting": "cyan",
    "lost": "red",
    "yielded": "blue",
}

#: One-cell glyphs for the partition grid, per status (a fallback for monochrome terminals).
STATUS_GLYPHS: dict[str, str] = {
    "queued": "·",
    "running": "▶",
    "retry_wait": "↻",
    "succeeded": "■",
    "failed": "✗",
    "cancelled": "-",
    "timed_out": "⌛",
}

FAILED_STATUSES = ("failed", "timed_out")


def status_style(status: str) -> str:
    return STATUS_STYLES.get(status, "")


def clock_time(iso: str | None) -> str:
    """HH:MM:SS of a stored UTC time, or a dash."""
    return iso[11:19] if iso else "-"


def short_time(iso: str | None) -> str:
    """MM-DD HH:MM of a stored UTC time, or a dash."""
    return f"{iso[5:10]} {iso[11:16]}" if iso else "-"


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
    if attempt.status in ("starting", "running"):
        return f"running on {attempt.node}"
    words = {
        "timeout": "timed out",
        "cancelled": f"cancelled{_by(attempt.kill_reason)}",
        "node_lost": f"node {attempt.node} lost",
        "launch_failed": "could not be launched",
        "not_sent": f"launch never reached {attempt.node}",
        "vanished": f"gone from {attempt.node} without an exit code",
        "preempted": f"preempted (node {attempt.node} drained)",
        "checkpoint_yield": "yielded at a checkpoint",
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
    return f" ({kill_reason})" if kill_reason and kill_reason != "cancelled" else ""


def run_why(run: Run, reasons: dict[int, str], attempts: dict[int, Attempt]) -> str:
    """The plain-words reason shown in a run's row: why it waits, or why its last attempt ended."""
    if run.id in reasons:
        return reasons[run.id]
    attempt = attempts.get(run.id)
    if run.status == "running":
        if run.cancel_requested:
            return f"kill requested by {run.cancel_requested.get('by', '?')}"
        if attempt and attempt.progress_total:
            done = attempt.progress_done or 0
            return f"{done / attempt.progress_total:.0%} {attempt.progress_message or ''}".rstrip()
        return f"on {run.node}" if run.node else ""
    if run.status == "cancelled" and attempt is None:
        return "cancelled before it started"
    if attempt is not None and run.status != "succeeded":
        return attempt_outcome(attempt)
    return ""


def progress_fraction(attempt: Attempt | None) -> float | None:
    if attempt is None or not attempt.progress_total:
        return None
    return max(0.0, min(1.0, (attempt.progress_done or 0) / attempt.progress_total))


def backfill_progress(counts: dict[str, int], planned: int) -> tuple[float | None, str]:
    """(fraction ended, "12/30 done · 3 running · 1 failed") for a backfill's run counts."""
    done = counts.get("succeeded", 0)
    failed = counts.get("failed", 0) + counts.get("timed_out", 0)
    cancelled = counts.get("cancelled", 0)
    total = planned or sum(counts.values())
    fraction = (done + failed + cancelled) / total if total else None
    parts = [f"{done}/{total} done"]
    if counts.get("running"):
        parts.append(f"{counts['running']} running")
    if failed:
        parts.append(f"{failed} failed")
    if cancelled:
        parts.append(f"{cancelled} cancelled")
    return fraction, " · ".join(parts)
