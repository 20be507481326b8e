"""The lease of an attempt on an unreachable node: how long it is, and how a run waiting on it is explained.

The scheduler records each attempt's lease (at dispatch, and again whenever its node is down, so a changed
nodes.toml counts), so the CLI and the console say when it runs out without knowing `--node-lost-after`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .clock import TimeText, utc_clock_text
from .models import from_iso


def lease_of(definition: dict[str, Any], node_lease: float | None, default: float) -> float:
    """Seconds an attempt outlives its node's silence: the job's own lease, else the node's, else the default."""
    job_lease = definition.get("lost_after")
    if job_lease is not None:
        return float(job_lease)
    return node_lease if node_lease is not None else default


def unreachable_reason(node: str, down_since: str, lease: float, show: TimeText = utc_clock_text) -> str:
    """Why a running run shows no progress: its node does not answer, and when its attempt is given up."""
    since = from_iso(down_since)
    assert since is not None
    return (f"node {node} unreachable since {show(since)}, the job keeps running there "
            f"(given up at {show(since + timedelta(seconds=lease))})")
