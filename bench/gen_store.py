"""Fill a Sluice store with N runs of realistic history: ~5 events per run, attempts for every started run.

    python bench/gen_store.py --runs 1000000 --home /tmp/sluice-bench/store-1000000

The store is created through open_database (so the real migrations make the real schema), then filled with
plain sqlite3 executemany in big transactions. No ANALYZE is run: the product never runs it, so the query
plans measured on this store are the ones a real store gets. The status mix, newest runs last:
  ~96% succeeded, 3% failed, 0.7% cancelled, 0.3% timed out; 25% of ended runs needed a second attempt;
  the newest runs: 150 running, 20 retry_wait, 300 queued (a few hundred, as on a busy day).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import time
from pathlib import Path

import common  # noqa: F401  (puts the repo on sys.path)

from scheduler.config import JobDefinition, PartitionSpec
from scheduler.home import Home, private_dir, write_private
from scheduler.store import open_database

NODES = ("w1", "w2", "w3", "w4")
RUNNING, RETRY_WAIT, QUEUED = 150, 20, 300
CHUNK = 50_000
SECONDS_PER_RUN = 4.0  # 1M runs span ~46 days of history
JOB_TOML = {
    # name -> (command, partition kind or None, queue)
    "ingest_orders": ("echo ingest {day}", "daily", "etl"),
    "ingest_clicks": ("echo clicks {day}", "daily", "etl"),
    "rollup_hourly": ("echo rollup {hour}", "hourly", "etl"),
    "daily_report": ("echo report {region}", None, "reports"),
    "host_scan": ("echo scan {host}", None, "default"),
    "nightly_backup": ("echo backup {target}", None, "default"),
    "sync_inventory": ("echo sync {shard}", None, "default"),
    "export_ledger": ("echo export {month}", None, "reports"),
}


def job_definitions() -> dict[str, JobDefinition]:
    jobs = {}
    for name, (command, kind, queue) in JOB_TOML.items():
        param = command.split("{")[1].rstrip("}")
        partition = PartitionSpec(param=param, kind=kind) if kind else None
        params = {} if partition else {param: "x"}
        jobs[name] = JobDefinition(name=name, command=command, queue=queue, params=params, partition=partition,
                                   timeout=3600, env={"TZ": "UTC"}, labels=["linux"])
    return jobs


def write_home(home: Home, jobs: dict[str, JobDefinition]) -> None:
    """nodes.toml and jobs/ so the CLI and the console open this home like a real one (nodes are not reachable)."""
    home.ensure()
    private_dir(home.jobs_dir)
    nodes = "".join(f'[[node]]\nname = "{n}"\nhost = "127.0.0.1"\nport = 9\nslots = 4\nlabels = ["linux"]\n\n'
                    for n in NODES)
    write_private(home.nodes_file, nodes)
    for name, (command, kind, queue) in JOB_TOML.items():
        param = command.split("{")[1].rstrip("}")
        text = f'name = "{name}"\ncommand = "{command}"\nqueue = "{queue}"\ntimeout = 3600\nlabels = ["linux"]\n'
        text += f'[partition]\nparam = "{param}"\nkind = "{kind}"\n' if kind else f'[params]\n{param} = "x"\n'
        write_private(home.jobs_dir / f"{name}.toml", text)


class Clock:
    """ISO text for epoch seconds, caching the second part (timestamps in a chunk are close together)."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def iso(self, moment: float) -> str:
        second = int(moment)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int((moment - second) * 1_000_000):06d}Z"


class Generator:
    def __init__(self, total: int, seed: int) -> None:
        self.total = total
        self.rng = random.Random(seed)
        self.clock = Clock()
        self.jobs = job_definitions()
        self.names = list(self.jobs)
        self.definitions = {name: json.dumps(job.model_dump(mode="json"), sort_keys=True)
                            for name, job in self.jobs.items()}
        self.now = time.time()
        self.start = self.now - total * SECONDS_PER_RUN
        self.attempt_id = 0
        self.home_id = "bench0000000"

    def status_of(self, run_id: int) -> str:
        from_end = self.total - run_id
        if from_end < QUEUED:
            return "queued"
        if from_end < QUEUED + RETRY_WAIT:
            return "retry_wait"
        if from_end < QUEUED + RETRY_WAIT + RUNNING:
            return "running"
        roll = self.rng.random()
        if roll < 0.96:
            return "succeeded"
        if roll < 0.99:
            return "failed"
        if roll < 0.997:
            return "cancelled"
        return "timed_out"

    def params(self, name: str, run_id: int, created: float) -> tuple[str, str | None]:
        job = self.jobs[name]
        if job.partition is None:
            param = next(iter(job.params))
            return json.dumps({param: f"{param}-{run_id % 97}"}), None
        kind = job.partition.kind
        key = time.strftime("%Y-%m-%dT%H" if kind == "hourly" else "%Y-%m-%d", time.gmtime(created - 86400))
        return json.dumps({job.partition.param: key}), key

    def chunk(self, first: int, last: int) -> tuple[list[tuple], list[tuple], list[tuple]]:
        """Rows for runs first..last: (runs, attempts, events)."""
        runs: list[tuple] = []
        attempts: list[tuple] = []
        events: list[tuple] = []
        for run_id in range(first, last + 1):
            name = self.names[run_id % len(self.names)]
            created = self.start + run_id * SECONDS_PER_RUN
            created_at = self.clock.iso(created)
            status = self.status_of(run_id)
            params, partition = self.params(name, run_id, created)
            head = (run_id, name, status, self.jobs[name].queue, 0, params, partition, self.definitions[name])
            events.append((created_at, run_id, None, "submitted", None, "queued", "bench", None))
            if status == "queued":
                runs.append((*head, 0, 0, None, None, None, created_at, None, None, created_at))
                continue
            tries = 1 if status == "running" else 2 if status in ("failed", "retry_wait") \
                or self.rng.random() < 0.25 else 1
            node, started_at, ended_at = self.attempts(run_id, status, tries, created, attempts, events)
            running, waiting = status == "running", status == "retry_wait"
            runs.append((*head, tries, tries if status in ("failed", "timed_out") else tries - waiting, node,
                         None if running or waiting else (0 if status == "succeeded" else 2),
                         self.clock.iso(self.now + 30) if waiting else None, created_at, started_at,
                         None if running or waiting else ended_at, started_at if running else ended_at))
        return runs, attempts, events

    def attempts(self, run_id: int, status: str, tries: int, created: float, attempts: list[tuple],
                 events: list[tuple]) -> tuple[str, str, str]:
        """Append a run's attempt rows and their events; (last node, last started_at, last ended_at)."""
        moment = created + self.rng.uniform(0.005, 0.5)
        node = started_at = ended_at = ""
        for number in range(1, tries + 1):
            node = NODES[(run_id + number) % 4]
            started_at = self.clock.iso(moment)
            moment += self.rng.uniform(0.5, 30.0)
            ended_at = self.clock.iso(moment)
            if number == tries and status == "running":
                attempt_status, run_after, code = "running", None, None
            elif number < tries or status == "retry_wait":
                attempt_status, run_after, code = "failed", "retry_wait", 1
            else:
                attempt_status, code = {"succeeded": ("succeeded", 0), "failed": ("failed", 2),
                                        "cancelled": ("cancelled", None), "timed_out": ("timed_out", None)}[status]
                run_after = status
            self.attempt_id += 1
            ended = attempt_status != "running"
            out = self.rng.randint(20, 4000) if ended else 0
            reason = ("exit" if code is not None else status.replace("_out", "out")) if ended else None
            attempts.append((self.attempt_id, run_id, number, node, attempt_status, reason, code, None,
                             10_000 + run_id % 50_000, str(run_id * 7), f"~/.sluice/{self.home_id}/r{run_id}-a{number}",
                             None, started_at, ended_at if ended else None, out, 0, out, int(ended)))
            if number > 1:
                events.append((started_at, run_id, number - 1, "retry_due", "retry_wait", "queued", "scheduler",
                               f"backoff over: attempt {number} queued"))
            events.append((started_at, run_id, number, "dispatched", "queued", "running", "scheduler",
                           f"attempt {number} on {node}"))
            events.append((started_at, run_id, number, "attempt_started", None, None, "scheduler",
                           f"on {node}, pid {10_000 + run_id % 50_000}"))
            if ended:
                events.append((ended_at, run_id, number, "attempt_ended", "running", run_after, "scheduler",
                               f"exit {code}" if code is not None else attempt_status))
        return node, started_at, ended_at


RUN_SQL = ("INSERT INTO runs (id, job, status, queue, priority, params, partition_key, definition, attempt,"
           " attempts_used, node, exit_code, next_attempt_at, created_at, started_at, ended_at, updated_at)"
           " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
ATTEMPT_SQL = ("INSERT INTO attempts (id, run_id, number, node, status, reason, exit_code, error, pid, pid_start,"
               " remote_dir, checkpoint_in, started_at, ended_at, stdout_offset, stderr_offset, parsed_offset,"
               " cleaned) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
EVENT_SQL = ("INSERT INTO events (at, run_id, attempt, kind, old_status, new_status, actor, detail)"
             " VALUES (?, ?, ?, ?, ?, ?, ?, ?)")


def generate(home_path: Path, total: int, seed: int = 6, quiet: bool = False) -> dict[str, float]:
    """Create the store at home_path (replacing one there) and return counts and rates."""
    home = Home(home_path)
    for suffix in ("", "-wal", "-shm"):
        Path(str(home.db_path) + suffix).unlink(missing_ok=True)
    generator = Generator(total, seed)
    write_home(home, generator.jobs)

    async def migrate() -> None:
        db = await open_database(home.db_path)
        await db.close()

    asyncio.run(migrate())
    conn = sqlite3.connect(home.db_path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")  # a bulk load: durability of a half-made bench store does not matter
    conn.execute("PRAGMA cache_size = -262144")
    for queue in ("default", "etl", "reports"):
        conn.execute("INSERT OR IGNORE INTO queues (name) VALUES (?)", (queue,))
    for node in NODES:
        conn.execute("INSERT OR IGNORE INTO nodes (name, state, updated_at) VALUES (?, 'up', ?)",
                     (node, generator.clock.iso(generator.now)))
    conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('home_id', ?)", (generator.home_id,))
    counts = {"runs": 0, "attempts": 0, "events": 0}
    began = time.perf_counter()
    for first in range(1, total + 1, CHUNK):
        runs, attempts, events = generator.chunk(first, min(total, first + CHUNK - 1))
        conn.execute("BEGIN")
        conn.executemany(RUN_SQL, runs)
        conn.executemany(ATTEMPT_SQL, attempts)
        conn.executemany(EVENT_SQL, events)
        conn.execute("COMMIT")
        counts["runs"] += len(runs)
        counts["attempts"] += len(attempts)
        counts["events"] += len(events)
        if not quiet and total >= 200_000:
            print(f"  ... {counts['runs']:,} runs", file=sys.stderr, flush=True)
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('bench_runs', ?)", (str(total),))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    seconds = time.perf_counter() - began
    rows = counts["runs"] + counts["attempts"] + counts["events"]
    return {**counts, "seconds": seconds, "rows_per_s": rows / seconds,
            "mb": home.db_path.stat().st_size / 1e6}


def existing(home_path: Path, total: int) -> bool:
    """True when home_path already holds a complete generated store of `total` runs."""
    db = Home(home_path).db_path
    if not db.exists():
        return False
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'bench_runs'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return row is not None and int(row[0]) == total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--home", type=Path, help="default: $SLUICE_BENCH_DIR/store-RUNS")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--figures", help="write figures as JSON here (for run_all.py)")
    args = parser.parse_args()
    home = args.home or common.WORK / f"store-{args.runs}"
    print(f"gen_store: {args.runs:,} runs into {home}", flush=True)
    result = generate(home, args.runs, args.seed)
    report = common.Report(args.figures)
    print(f"  {result['runs']:,} runs, {result['attempts']:,} attempts, {result['events']:,} events "
          f"({result['events'] / result['runs']:.2f} per run) in {result['seconds']:.1f} s; "
          f"{result['mb']:,.0f} MB", flush=True)
    report.add(f"gen_store: insert rate ({args.runs:,} runs + attempts + events)", result["rows_per_s"], "rows/s")
    report.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
