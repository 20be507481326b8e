"""Run an operator action through the engine off the UI path and report its outcome in a notification."""

from __future__ import annotations

from collections.abc import Sequence

from textual.notifications import SeverityLevel

from scheduler.engine import ActionResult

from .ports import Action
from .shield import QUERY_ERRORS, shielded

#: Screen actions that change the store; a read-only console hides and refuses them.
MUTATIONS = frozenset({
    "retry", "retry_scratch", "cancel", "priority", "toggle_pause", "toggle_drain", "retry_all",
    "new_backfill", "pause_backfill", "cancel_backfill", "retry_failed", "parallel", "launch",
    "drain", "undrain", "submit", "trigger",
})


def summarize(results: Sequence[ActionResult]) -> tuple[str, SeverityLevel]:
    """One notification for a bulk action: how many succeeded, then each refusal."""
    done = [result for result in results if result.ok]
    refused = [result for result in results if not result.ok]
    if len(results) == 1:
        return results[0].message, "information" if done else "warning"
    lines = [f"{len(done)} of {len(results)} done"]
    lines += [result.message for result in refused[:5]]
    if len(refused) > 5:
        lines.append(f"… and {len(refused) - 5} more refused")
    return "\n".join(lines), "information" if not refused else "warning"


def run_count(count: int) -> str:
    return f"{count} run" if count == 1 else f"{count} runs"


def id_list(run_ids: Sequence[int], limit: int = 8) -> str:
    shown = ", ".join(str(run_id) for run_id in run_ids[:limit])
    return shown + (f" and {len(run_ids) - limit} more" if len(run_ids) > limit else "")


async def perform(action: Action) -> tuple[str, SeverityLevel]:
    """Await an engine action; returns (message, severity) for a notification, never raises a SluiceError."""
    try:
        outcome = await shielded(action())
    except QUERY_ERRORS as exc:
        return str(exc), "error"
    if isinstance(outcome, list) and outcome:
        return summarize(outcome)
    if isinstance(outcome, str):
        return outcome, "information"
    return "done", "information"
