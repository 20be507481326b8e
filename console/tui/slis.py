"""Service levels and throughput computed from engine queries: a sample of the newest ended runs."""

from __future__ import annotations

from datetime import datetime, timedelta

from scheduler.models import Run, from_iso
from scheduler.run_filter import RunFilter
from scheduler.states import ENDED, RunStatus, ordered

from .format import DEAD_LETTERS, duration_text
from .ports import EnginePort

ENDED_STATUSES = ordered(ENDED)
SAMPLE = 1000
BUCKETS = 12
SPARK = "▁▂▃▄▅▆▇█"


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def sparkline(counts: list[float]) -> str:
    top = max(counts, default=0)
    if not top:
        return " " * len(counts)
    return "".join(SPARK[min(len(SPARK) - 1, int(count / top * (len(SPARK) - 1)))] if count else " "
                   for count in counts)


def _ended_in(runs: list[Run], now: datetime, window: timedelta) -> list[Run]:
    since = now - window
    return [run for run in runs if (ended := from_iso(run.ended_at)) is not None and ended >= since]


async def service_levels(engine: EnginePort, window: timedelta) -> tuple[dict[str, str], dict[str, list[float]]]:
    """(SLI name -> text, queue -> ended-run counts per bucket over the last hour)."""
    now = engine.clock()
    sample = await engine.runs(RunFilter(statuses=ENDED_STATUSES), SAMPLE)
    recent = _ended_in(sample, now, window)
    succeeded = [run for run in recent if run.status == RunStatus.SUCCEEDED]
    durations = [seconds for run in succeeded if (seconds := _seconds(run.started_at, run.ended_at)) is not None]
    dead = await engine.count_runs(RunFilter(statuses=DEAD_LETTERS), cap=100_000)
    oldest = await engine.runs(RunFilter(statuses=(RunStatus.QUEUED,)), 1, after_id=0)
    queued_since = from_iso(oldest[0].created_at) if oldest else None
    slis = {
        "success rate": f"{len(succeeded) / len(recent):.1%}" if recent else "-",
        "p50 run time": duration_text(percentile(durations, 0.5)),
        "p95 run time": duration_text(percentile(durations, 0.95)),
        "retry rate": f"{sum(1 for run in recent if run.attempt > 1) / len(recent):.1%}" if recent else "-",
        "ended": f"{len(recent):,}" + ("+" if len(sample) == SAMPLE and len(recent) == len(sample) else ""),
        "dead letters": f"{dead:,}",
        "oldest queued": duration_text((now - queued_since).total_seconds()) if queued_since else "-",
    }
    return slis, throughput(sample, now)


def _seconds(start: str | None, end: str | None) -> float | None:
    """Seconds from one stored time to another, or None when either is missing."""
    began, ended = from_iso(start or None), from_iso(end or None)
    return (ended - began).total_seconds() if began is not None and ended is not None else None


def throughput(runs: list[Run], now: datetime) -> dict[str, list[float]]:
    """Ended runs per queue in BUCKETS five-minute buckets over the last hour, oldest first."""
    width = timedelta(hours=1) / BUCKETS
    series: dict[str, list[float]] = {}
    for run in _ended_in(runs, now, timedelta(hours=1)):
        ended = from_iso(run.ended_at)
        assert ended is not None
        # A run may end after `now` (another host's clock, sharing the home): count it in the newest bucket.
        bucket = max(0, min(BUCKETS - 1, int((now - ended) / width)))
        series.setdefault(run.queue, [0.0] * BUCKETS)[BUCKETS - 1 - bucket] += 1
    return series
