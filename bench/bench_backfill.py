"""Backfill creation: plan and create a 10,000-partition hourly backfill (one transaction), then the same again.

    python bench/bench_backfill.py [--partitions 10000] [--history 100000]

Runs on a fresh home and on a home with HISTORY generated runs (gen_store.py; its hourly job already has runs).
Figures: plan (read-only, what --dry-run does), create (Engine.create_backfill: re-plans inside its write
transaction, then inserts the backfill, its runs and their events, one commit), the second identical backfill
(every partition skipped: nothing created), and the whole `sluice backfill ... --json` CLI as a subprocess.
Targets: issue 6 "creating a 10,000-partition backfill takes under 1 s" (held to plan + create, what an
operator waits for); issue 3 "well under a few seconds".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta

import common
import gen_store

from scheduler.engine import Engine
from scheduler.home import Home

JOB = "rollup_hourly"
TARGET_S = 1.0


def hour_range(partitions: int) -> tuple[str, str]:
    first = datetime(2024, 1, 1, tzinfo=UTC)
    last = first + timedelta(hours=partitions - 1)
    return first.strftime("%Y-%m-%dT%H"), last.strftime("%Y-%m-%dT%H")


async def engine_backfill(home: Home, partitions: int, label: str, report: common.Report) -> None:
    range_from, range_to = hour_range(partitions)
    engine = await Engine.open(home)
    try:
        start = time.perf_counter()
        plan = await engine.plan_backfill(JOB, range_from=range_from, range_to=range_to)
        planned = time.perf_counter()
        backfill_id, run_ids = await engine.create_backfill(plan)
        created = time.perf_counter()
        if len(run_ids) != partitions or len(plan.partitions) != partitions:
            raise RuntimeError(f"expected {partitions} runs, planned {len(plan.partitions)}, created {len(run_ids)}")
        counts = await engine.backfill_counts(backfill_id)
        if counts != {"queued": partitions}:
            raise RuntimeError(f"backfill {backfill_id} holds {counts}")
        report.add(f"backfill {partitions:,} ({label}): plan", (planned - start) * 1000, "ms")
        report.add(f"backfill {partitions:,} ({label}): create (one transaction)", (created - planned) * 1000, "ms")
        report.add(f"backfill {partitions:,} ({label}): plan + create", created - start, "s", at_most=TARGET_S)
        start = time.perf_counter()
        again = await engine.plan_backfill(JOB, range_from=range_from, range_to=range_to)
        second_id, second_runs = await engine.create_backfill(again)
        took = time.perf_counter() - start
        if second_runs or len(again.skipped) != partitions:
            raise RuntimeError(f"second backfill created {len(second_runs)} runs, skipped {len(again.skipped)}")
        report.add(f"backfill {partitions:,} ({label}): same again, all skipped", took * 1000, "ms",
                   note=f"{len(again.skipped):,} skipped, nothing created")
    finally:
        await engine.close()


def cli_backfill(home: Home, partitions: int, report: common.Report) -> None:
    range_from, range_to = hour_range(partitions)
    args = [*common.sluice_cli(), "backfill", JOB, "--from", range_from, "--to", range_to, "--json",
            "--home", str(home.root)]
    start = time.perf_counter()
    result = common.run_quiet(args, env=common.child_env())
    took = time.perf_counter() - start
    if result.returncode != 0:
        report.add(f"backfill {partitions:,} (fresh home): sluice backfill --json (CLI wall)", None, "s",
                   note=result.stderr.decode()[-200:])
        return
    planned = json.loads(result.stdout)["planned"]
    report.add(f"backfill {partitions:,} (fresh home): sluice backfill --json (CLI wall)", took, "s",
               note=f"{planned:,} planned; includes interpreter start and imports")


def fresh_home(name: str) -> Home:
    root = common.WORK / name
    shutil.rmtree(root, ignore_errors=True)
    home = Home(root)
    gen_store.write_home(home, gen_store.job_definitions())
    return home


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--partitions", type=int, default=10_000)
    parser.add_argument("--history", type=int, default=100_000, help="runs already in the second home (0: skip)")
    parser.add_argument("--figures", help="write figures as JSON here (for run_all.py)")
    args = parser.parse_args()
    report = common.Report(args.figures)
    print(f"bench_backfill: {args.partitions:,} hourly partitions of {JOB}", flush=True)
    asyncio.run(engine_backfill(fresh_home("backfill-fresh"), args.partitions, "fresh home", report))
    cli_backfill(fresh_home("backfill-cli"), args.partitions, report)
    if args.history:
        path = common.WORK / f"backfill-history-{args.history}"
        gen_store.generate(path, args.history, quiet=True)
        asyncio.run(engine_backfill(Home(path), args.partitions, f"{args.history:,}-run store", report))
    report.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
