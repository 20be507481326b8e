"""Whether the engine offers backfills, so the console runs against an engine without them."""

from __future__ import annotations

from typing import Any

REQUIRED = ("plan_backfill", "create_backfill", "backfills", "backfill_detail", "pause_backfill", "resume_backfill",
            "cancel_backfill", "retry_failed_backfill", "set_backfill_max_parallel")
MISSING = "This engine has no backfill API yet: backfills cannot be listed or launched from the console."


def supported(engine: Any) -> bool:
    return all(hasattr(engine, name) for name in REQUIRED)


def progress(counts: dict[str, int], planned: int) -> tuple[float | None, str]:
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
