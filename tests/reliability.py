"""Support for fault tests: the scheduler as a real subprocess, the job's start ledger, and the figures they report.

With SLUICE_RELIABILITY_REPORT=PATH set, `report` appends one JSON line per fault to PATH;
bench/reliability_table.py runs the fault tests that way and renders docs/reliability.md's table."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from harness import SluiceHome

REPORT_ENV = "SLUICE_RELIABILITY_REPORT"
ENDED = ("succeeded", "failed", "cancelled", "timed_out")


@dataclass(frozen=True)
class FaultFigures:
    """One row of the reliability table, measured by a test."""

    fault: str
    injection: str
    runs: int
    #: Runs that did not end as the test required (never ran, failed, or vanished).
    lost: int
    #: Jobs started more than once, counted by the start ledger.
    duplicated: int
    #: Bytes the jobs wrote on the workers that the bastion's log store lacks (or holds wrongly).
    log_bytes_lost: int
    #: Seconds from the restart (or the end of the fault) until every run ended.
    recover_seconds: float
    test: str
    #: The in-between state the test saw right after the fault, in words.
    observed: str = ""


def report(figures: FaultFigures) -> None:
    """Append the figures to $SLUICE_RELIABILITY_REPORT, if set (never asserted on: they are measurements)."""
    path = os.environ.get(REPORT_ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(asdict(figures)) + "\n")


async def spawn_scheduler(home: SluiceHome, log: Path, crash_at: str | None = None,
                          poll_interval: str = "100ms") -> asyncio.subprocess.Process:
    """`sluice scheduler` as a real process, its stderr appended to `log`; crash_at arms a crash point."""
    env = {key: value for key, value in os.environ.items() if key != "SLUICE_CRASH_AT"}
    if crash_at is not None:
        env["SLUICE_CRASH_AT"] = crash_at
    with open(log, "ab") as handle:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "console.main", "scheduler", "--home", str(home.home.root),
            "--poll-interval", poll_interval, stdout=asyncio.subprocess.DEVNULL, stderr=handle, env=env)


async def stop_scheduler(process: asyncio.subprocess.Process) -> int:
    if process.returncode is None:
        process.terminate()
    return await asyncio.wait_for(process.wait(), 30)


def ledger_starts(ledger: Path) -> Counter[int]:
    """run id -> how many times its job started (the job appends its run id first thing)."""
    if not ledger.exists():
        return Counter()
    return Counter(int(word) for word in ledger.read_text().split())


def store_rows(home: SluiceHome, sql: str, *params: object) -> list[sqlite3.Row]:
    """Read the store as a separate reader would (WAL: sees only what was committed)."""
    conn = sqlite3.connect(f"file:{home.home.db_path}?mode=ro", uri=True)
    try:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def bytes_lost(stored: bytes, written: bytes) -> int:
    """Bytes of `written` that `stored` does not hold in place; extra or repeated bytes count too."""
    common = 0
    for mine, theirs in zip(stored, written, strict=False):
        if mine != theirs:
            break
        common += 1
    return (len(written) - common) + (len(stored) - common)


async def wait_all_ended(home: SluiceHome, run_ids: list[int], timeout: float) -> float:
    """Seconds until every run ended; fails naming the stragglers after `timeout`."""
    start = time.monotonic()
    deadline = start + timeout
    marks = ",".join("?" * len(ENDED))
    while True:
        rows = store_rows(home, f"SELECT count(*) FROM runs WHERE status IN ({marks})", *ENDED)
        if rows[0][0] >= len(run_ids):
            return time.monotonic() - start
        if time.monotonic() > deadline:
            pending = store_rows(home, f"SELECT id, status FROM runs WHERE status NOT IN ({marks})", *ENDED)
            raise AssertionError(f"runs not ended after {timeout}s: {[tuple(r) for r in pending][:20]}")
        await asyncio.sleep(0.1)


def _read(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b""


def bytes_differing(stored: bytes, written: bytes) -> int:
    """Bytes that differ in place (same offset) plus the difference in length: a gap of filler at the right
    offsets counts as its own size only, where `bytes_lost` would count everything after it."""
    return sum(1 for mine, theirs in zip(stored, written, strict=False) if mine != theirs) + abs(
        len(stored) - len(written))


def store_vs_worker_bytes(home: SluiceHome, in_place: bool = False) -> int:
    """Every attempt's stdout and stderr: the bastion's log store against the worker's file (ATTEMPT_DIR/stream),
    by `bytes_lost` (or `bytes_differing` with in_place). A file that does not exist counts as empty."""
    compare = bytes_differing if in_place else bytes_lost
    total = 0
    for row in store_rows(home, "SELECT run_id, number, remote_dir FROM attempts"):
        for stream in ("stdout", "stderr"):
            stored = _read(home.home.logs_dir / str(row["run_id"]) / str(row["number"]) / stream)
            written = _read(Path(row["remote_dir"]) / stream) if row["remote_dir"] else b""
            total += compare(stored, written)
    return total


def ledger_duplicates(ledger: Path, word: str = "start") -> tuple[int, int]:
    """(starts, starts beyond the first) for a one-run test whose job appends a line with `word` as it starts."""
    starts = ledger.read_text().split().count(word) if ledger.exists() else 0
    return starts, max(0, starts - 1)
