"""Text for the run detail tabs: summary, checkpoint timeline, definition. Pure functions of engine records."""

from __future__ import annotations

import json
from datetime import datetime

from rich.text import Text

from scheduler.models import Attempt, Checkpoint, Run
from scheduler.states import RunStatus

from ..format import attempt_outcome, clock_time, duration_text, elapsed, short_time, status_style


def summary_text(run: Run, attempt: Attempt | None, reason: str | None, now: datetime,
                 node_error: str | None = None) -> Text:
    """Identity and state, then why it waits or how it ended, and why its node cannot report on it."""
    text = Text()
    text.append(f"run {run.id} ", style="bold")
    text.append(run.job, style="bold")
    if run.partition:
        text.append(f" [{run.partition}]")
    text.append("  ")
    text.append(run.status.upper(), style=status_style(run.status))
    # Out of the last attempt the run may make: an operator retry grants max_attempts more (never "4/2").
    text.append(f"  attempt {run.attempt}/{run.last_attempt}  queue {run.queue}  prio {run.priority}")
    if run.node:
        text.append(f"  node {run.node}")
    if run.backfill_id is not None:
        text.append(f"  backfill {run.backfill_id}")
    text.append("\n")
    took = duration_text(elapsed(run.started_at, run.ended_at, now)) if run.started_at else "-"
    text.append(f"created {short_time(run.created_at)}  started {short_time(run.started_at)}  "
                f"ended {short_time(run.ended_at)}  took {took}\n", style="dim")
    text.append(why_line(run, attempt, reason))
    if node_error:
        text.append(f"\nnode error: {node_error}", style="bold red")
    return text


def why_line(run: Run, attempt: Attempt | None, reason: str | None) -> Text:
    if reason:
        return Text(reason if run.status == RunStatus.RUNNING else f"waiting: {reason}", style="yellow")
    if run.status == RunStatus.RUNNING and run.cancel_requested:
        return Text(f"kill requested by {run.cancel_requested.get('by', '?')}", style="magenta")
    if run.status == RunStatus.SUCCEEDED:
        return Text(RunStatus.SUCCEEDED.value, style="green")
    if attempt is not None and run.status != RunStatus.QUEUED:
        return Text(attempt_outcome(attempt), style=status_style(attempt.status))
    if run.status == RunStatus.CANCELLED:
        return Text("cancelled before it started", style="dim")
    return Text("")


def checkpoints_text(checkpoints: list[Checkpoint], floor: int) -> Text:
    """The checkpoint history as a timeline, newest first (a retry resumes from the top one), marked."""
    if not checkpoints:
        return Text("No checkpoints: a retry starts from the beginning.", style="dim")
    usable = [checkpoint for checkpoint in checkpoints if checkpoint.id > floor]
    resume = usable[-1].id if usable else None
    text = Text()
    for checkpoint in reversed(checkpoints):
        marker = "◆" if checkpoint.id == resume else ("◇" if checkpoint.id > floor else "×")
        text.append(f" {marker} ", style="bold cyan" if checkpoint.id == resume else "dim")
        text.append(f"{clock_time(checkpoint.at)}  attempt {checkpoint.attempt}  ")
        text.append(checkpoint.value, style="bold")
        text.append(f"  (byte {checkpoint.offset:,})", style="dim")  # of stdout; short, so 80 columns hold a line
        if checkpoint.id == resume:
            text.append("  ← a retry resumes here", style="cyan")
        text.append("\n")
    if floor and not usable:
        text.append("A from-scratch retry set these aside: the next attempt starts over.\n", style="dim")
    return text


def definition_text(run: Run) -> Text:
    """The params and the job definition snapshot the run executes with."""
    text = Text()
    text.append("params\n", style="bold")
    for name, value in sorted(run.params.items()):
        text.append(f"  {name} = {value}\n")
    if not run.params:
        text.append("  (none)\n", style="dim")
    text.append("\ndefinition snapshot\n", style="bold")
    text.append(json.dumps(run.definition, indent=2, sort_keys=True))
    return text


def attempt_row(attempt: Attempt, now: datetime) -> tuple[str, ...]:
    took = duration_text(elapsed(attempt.started_at, attempt.ended_at, now))
    return (str(attempt.number), attempt.node, attempt.status, short_time(attempt.started_at),
            short_time(attempt.ended_at), took, "" if attempt.exit_code is None else str(attempt.exit_code),
            attempt_outcome(attempt))
