"""End-to-end dispatch: N trivial jobs (`echo job $i`) through Sluice on 4 nodes x 4 slots, every log checked.

    python bench/bench_dispatch.py [--sizes 500,2000] [--fleets local,sshd] [--latency 500]

Per fleet (in-process asyncssh nodes; real OpenSSH sshd processes, skipped with a message if there is no sshd),
in a fresh process each so its peak RSS is its own: one in-process Scheduler with
SchedulerSettings(poll_interval=0.1, tick=0.05) and the real SshExecutor. A warm-up of 16 jobs first (so the
SSH connections are up, as in a scheduler that has been running). Then, per N: submit_many N runs in one
transaction; jobs/s from the first dispatch (the earliest attempt's started_at) to the last success (the
latest ended_at); the run's own submit-to-start wait; every run must have succeeded on its first attempt and
every log be exactly `job $i\\n` (stdout, byte for byte; stderr empty). Then the latency phase: LATENCY runs
submitted one by one at 25 per second (slots stay idle), submit-to-start p50/p99, where start is both the
dispatch (run started_at) and the launch confirmed by the worker (the attempt_started event). The process's
peak RSS (VmHWM) is the scheduler's; for the in-process fleet it includes the worker nodes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import common
import fleet

from scheduler.config import load_nodes
from scheduler.engine import Engine
from scheduler.home import Home, private_dir, write_private
from scheduler.logstore import LogStore
from scheduler.process.loop import Scheduler
from scheduler.process.settings import SchedulerSettings
from scheduler.run_filter import RunFilter
from scheduler.ssh.executor import SshExecutor

SETTINGS = SchedulerSettings(tick=0.05, poll_interval=0.1, cleanup_interval=3600)
NODES, SLOTS = 4, 4
JOB = "echo_job"
LATENCY_RATE = 25.0
ENDED = ("succeeded", "failed", "cancelled", "timed_out")
LATENCY_P50_MS, LATENCY_P99_MS = 50.0, 250.0
RSS_TARGET_MB = 200.0


def stamp(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def make_home(root: Path, workers: list[fleet.Worker]) -> Home:
    shutil.rmtree(root, ignore_errors=True)
    home = Home(root / "home")
    home.ensure()
    private_dir(home.jobs_dir)
    workdir = str(root / "worker")
    write_private(home.nodes_file, "\n".join(worker.toml(SLOTS, workdir) for worker in workers))
    write_private(home.jobs_dir / f"{JOB}.toml", f'name = "{JOB}"\ncommand = "echo job {{i}}"\n[params]\ni = "0"\n')
    return home


async def wait_ended(engine: Engine, run_ids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    low = min(run_ids)
    while True:
        ended = await engine.count_runs(RunFilter(statuses=ENDED))
        # Runs before `low` (warm-up, earlier batches) have all ended already.
        if ended - (low - 1) >= len(run_ids):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{ended - (low - 1)} of {len(run_ids)} runs ended within {timeout:.0f} s")
        await asyncio.sleep(0.1)


def check_runs(home: Home, run_ids: dict[int, int]) -> list[str]:
    """Problems with the given runs (run id -> i): not succeeded first time, or a log that is not `job i\\n`."""
    problems = []
    logs = LogStore(home.logs_dir)
    conn = sqlite3.connect(f"file:{home.db_path}?mode=ro", uri=True)
    try:
        rows = {row[0]: row[1:] for row in conn.execute(
            "SELECT id, status, attempt FROM runs WHERE id BETWEEN ? AND ?", (min(run_ids), max(run_ids)))}
    finally:
        conn.close()
    for run_id, index in run_ids.items():
        status, attempt = rows.get(run_id, ("missing", 0))
        if status != "succeeded" or attempt != 1:
            problems.append(f"run {run_id}: {status} after {attempt} attempts")
            continue
        out = logs.read(run_id, 1, "stdout")
        err = logs.read(run_id, 1, "stderr")
        if out != f"job {index}\n".encode() or err:
            problems.append(f"run {run_id}: stdout {out[:40]!r}, stderr {err[:40]!r}")
    return problems


def timings(home: Home, first: int, last: int) -> dict[str, list[float]]:
    """Per run: created, dispatched (run started_at), launched (attempt_started event), ended."""
    conn = sqlite3.connect(f"file:{home.db_path}?mode=ro", uri=True)
    try:
        runs = conn.execute("SELECT id, created_at, started_at, ended_at FROM runs WHERE id BETWEEN ? AND ?"
                            " ORDER BY id", (first, last)).fetchall()
        launched = dict(conn.execute("SELECT run_id, min(at) FROM events WHERE kind = 'attempt_started'"
                                     " AND run_id BETWEEN ? AND ? GROUP BY run_id", (first, last)).fetchall())
    finally:
        conn.close()
    return {
        "created": [stamp(row[1]) for row in runs],
        "dispatched": [stamp(row[2]) for row in runs],
        "launched": [stamp(launched[row[0]]) for row in runs],
        "ended": [stamp(row[3]) for row in runs],
    }


async def throughput(engine: Engine, home: Home, count: int, kind: str, label: str, report: common.Report) -> None:
    cpu = time.process_time()
    load = common.MachineLoad().start()
    submitted = time.perf_counter()
    run_ids = await engine.submit_many(JOB, [{"i": index} for index in range(count)])
    submit_s = time.perf_counter() - submitted
    await wait_ended(engine, run_ids, timeout=60 + count / 2)
    wall = time.perf_counter() - submitted
    cpu = time.process_time() - cpu
    busy, forks = load.stop()
    problems = check_runs(home, dict(zip(run_ids, range(count), strict=True)))
    times = timings(home, run_ids[0], run_ids[-1])
    window = max(times["ended"]) - min(times["dispatched"])
    rate = count / window
    waits = [(start - created) * 1000 for start, created in zip(times["launched"], times["created"], strict=True)]
    report.add(f"dispatch {label}: N={count:,} jobs/s, first dispatch to last success", rate, "jobs/s",
               key=f"dispatch.{kind}.{count}",
               note=f"submit_many {submit_s * 1000:.0f} ms; submit to all done {wall:.1f} s; scheduler process CPU "
                    f"{cpu / count * 1000:.1f} ms/job; machine CPU {busy:.0f}% busy; {forks / count:.1f} processes/job")
    report.add(f"dispatch {label}: N={count:,} queue wait (submit to launched) p50", common.percentile(waits, 0.5),
               "ms", note=f"p99 {common.percentile(waits, 0.99):,.0f} ms; all submitted at once")
    report.add(f"dispatch {label}: N={count:,} runs failed or logs not byte-exact", len(problems), "runs",
               at_most=0, note="; ".join(problems[:3]))


async def latency(engine: Engine, count: int, label: str, home: Home, report: common.Report) -> None:
    run_ids: list[int] = []
    began = time.perf_counter()
    for index in range(count):
        due = began + index / LATENCY_RATE
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        run_id, _ = await engine.submit(JOB, {"i": 100_000 + index})
        run_ids.append(run_id)
    await wait_ended(engine, run_ids, timeout=60)
    problems = check_runs(home, {run_id: 100_000 + index for index, run_id in enumerate(run_ids)})
    times = timings(home, run_ids[0], run_ids[-1])
    dispatched = [(a - b) * 1000 for a, b in zip(times["dispatched"], times["created"], strict=True)]
    launched = [(a - b) * 1000 for a, b in zip(times["launched"], times["created"], strict=True)]
    note = (f"{count} runs at {LATENCY_RATE:g}/s; to dispatch p50 {common.percentile(dispatched, 0.5):.0f} / "
            f"p99 {common.percentile(dispatched, 0.99):.0f} ms" + (f"; {len(problems)} bad runs" if problems else ""))
    report.add(f"dispatch {label}: submit-to-start (launched) p50, idle slots", common.percentile(launched, 0.5),
               "ms", at_most=LATENCY_P50_MS, note=note)
    report.add(f"dispatch {label}: submit-to-start (launched) p99, idle slots", common.percentile(launched, 0.99),
               "ms", at_most=LATENCY_P99_MS)


async def run_fleet(kind: str, sizes: list[int], latency_runs: int, report: common.Report) -> None:
    label = {"local": "(a) asyncssh nodes", "sshd": "(b) OpenSSH sshd"}[kind]
    root = common.WORK / f"dispatch-{kind}"
    async with fleet.fleet(kind, root / "fleet", NODES) as workers:
        home = make_home(root / "sluice", workers)
        nodes = load_nodes(home.nodes_file)
        scheduler = Scheduler(home, SshExecutor(nodes), nodes, settings=SETTINGS)
        stop = asyncio.Event()
        task = asyncio.ensure_future(scheduler.run(stop))
        engine = await Engine.open(home)
        try:
            warm = await engine.submit_many(JOB, [{"i": -1 - index} for index in range(NODES * SLOTS)])
            await wait_ended(engine, warm, timeout=60)
            for count in sizes:
                await throughput(engine, home, count, kind, label, report)
            if latency_runs:
                await latency(engine, latency_runs, label, home, report)
            report.add(f"dispatch {label}: bench process peak RSS (scheduler + engine"
                       + (" + nodes)" if kind == "local" else ")"), common.rss_mb()[1], "MB",
                       at_most=RSS_TARGET_MB)
        finally:
            await engine.close()
            stop.set()
            await asyncio.wait_for(task, 30)
    shutil.rmtree(root / "fleet" / "worker", ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="500,2000")
    parser.add_argument("--fleets", default="local,sshd")
    parser.add_argument("--latency", type=int, default=500, help="runs in the latency phase (0: skip)")
    parser.add_argument("--figures", help="write figures as JSON here (for run_all.py)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    report = common.Report(args.figures)
    if args.one:
        asyncio.run(run_fleet(args.one, sizes, args.latency, report))
        report.write()
        return 0
    print(f"bench_dispatch: N = {args.sizes}; {NODES} nodes x {SLOTS} slots; SchedulerSettings(poll_interval="
          f"{SETTINGS.poll_interval}, tick={SETTINGS.tick})", flush=True)
    for kind in args.fleets.split(","):
        if kind == "sshd" and (why := fleet.sshd_missing()):
            print(f"  (b) OpenSSH sshd: SKIPPED: {why}", flush=True)
            continue
        print(f"  fleet: {fleet.KINDS[kind]}", flush=True)
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            # A process per fleet, so its peak RSS is its own.
            result = subprocess.run([sys.executable, __file__, "--one", kind, "--sizes", args.sizes,
                                     "--latency", str(args.latency), "--figures", out.name],
                                    check=False, env=common.child_env())
            if result.returncode != 0:
                report.add(f"dispatch {kind}", None, "jobs/s", note=f"the {kind} run exited {result.returncode}")
                continue
            for figure in json.loads(Path(out.name).read_text()):
                report.figures.append(common.Figure(**figure))
    report.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
