"""Store scale: how the CLI's and the console's queries grow with the history (10k, 100k, 1M runs).

    python bench/bench_store.py --sizes 10000,100000,1000000

Stores come from gen_store.py (made once, reused while complete: $SLUICE_BENCH_DIR/store-N). The page cache is
warm (the store was just written or read): these are warm-cache figures. The targets of issue 6 apply to the
largest size run. Figures:
  - `sluice runs --status running --json`: the whole CLI as a subprocess, median of 5 after one warm-up, next to
    the bare interpreter+import cost of the CLI (the floor no query can go under) and the in-process calls;
  - newest page, a deep keyset page (90% back), counts by status, wait_reasons for 50 queued runs;
  - the console runs table's first window (the same four engine calls RunsTable._load("top") makes);
  - the console itself, headless (Textual run_test): app start to overview loaded, then key "2" to the runs
    table's first window; the figure held to the target adds `python -c "import console.tui.app"` (the start-up an
    operator also waits for);
  - a scheduler process on the store: peak RSS and the mean time of one pass (no nodes: dispatch is skipped),
    and one dispatch plan (plan_dispatch, read-only) with 4 nodes x 4 free slots.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import common
import gen_store

from scheduler.engine import Engine
from scheduler.home import Home
from scheduler.run_filter import RunFilter

CLI_REPEAT = 5
CALL_REPEAT = 15
RUNS_CLI_TARGET_MS = 100.0
CONSOLE_TARGET_S = 1.5
SCHEDULER_RSS_TARGET_MB = 200.0


async def call_ms(call: Callable[[], Awaitable[Any]], repeat: int = CALL_REPEAT) -> float:
    """Median wall time of an awaited engine call, after one warm-up call."""
    await call()
    samples: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        await call()
        common.timed_ms(samples, start)
    return common.median(samples)


def cli_ms(args: list[str]) -> tuple[float, bytes]:
    """Median wall time of a subprocess (after one warm-up run) and its last stdout."""
    samples: list[float] = []
    out = b""
    for index in range(CLI_REPEAT + 1):
        start = time.perf_counter()
        result = common.run_quiet(args, env=common.child_env())
        if index:
            common.timed_ms(samples, start)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} exited {result.returncode}: {result.stderr.decode()[-500:]}")
        out = result.stdout
    return common.median(samples), out


async def console_window(engine: Engine) -> None:
    """What the console's RunsTable does to show its first window (runs_table.py, _load("top"))."""
    from console.tui.widgets.runs_table import COUNT_CAP, PAGE

    runs = await engine.runs(RunFilter(), PAGE)
    waiting = [run for run in runs if run.status in ("queued", "retry_wait")]
    if waiting:
        await engine.wait_reasons(waiting)
    ended = [run.id for run in runs if run.status != "queued"]
    if ended:
        await engine.last_attempts(ended)
    await engine.count_runs(RunFilter(), cap=COUNT_CAP)


async def engine_figures(home: Home, size: int, report: common.Report, final: bool) -> None:
    engine = await Engine.open(home)
    try:
        running = RunFilter(statuses=("running",))
        queued = RunFilter(statuses=("queued",))
        deep = size - size // 10 * 9  # 90% of the way back into history

        async def cli_equivalent() -> None:
            found = await engine.runs(running, 50)
            await engine.wait_reasons(found)

        queued_page = await engine.runs(queued, 50)
        figures: list[tuple[str, Callable[[], Awaitable[Any]], str]] = [
            ("Engine.runs(status=running) + wait_reasons (in-process)", cli_equivalent, "running"),
            ("newest page of 50 runs", lambda: engine.runs(RunFilter(), 50), "newest"),
            ("deep keyset page of 50 (90% back)", lambda: engine.runs(RunFilter(), 50, before_id=deep), "deep"),
            ("deep keyset page of 50 succeeded (90% back)",
             lambda: engine.runs(RunFilter(statuses=("succeeded",)), 50, before_id=deep), "deep_status"),
            ("count by status (status_counts)", engine.status_counts, "status_counts"),
            ("count_runs(status=failed)", lambda: engine.count_runs(RunFilter(statuses=("failed",))), "count"),
            ("wait_reasons for a page of 50 queued", lambda: engine.wait_reasons(queued_page), "wait_reasons"),
            ("console runs table: first window (4 engine calls)", lambda: console_window(engine), "window"),
        ]
        for name, call, key in figures:
            report.add(f"store {size:>9,}: {name}", await call_ms(call), "ms", key=f"store.{size}.{key}")
    finally:
        await engine.close()


async def console_open(home: Home) -> tuple[float, float]:
    """Seconds from app start to the overview loaded, and from key "2" to the runs table's first window."""
    from console.tui.app import create_app
    from console.tui.screens.overview import OverviewScreen
    from console.tui.screens.runs import RunsScreen

    began = time.perf_counter()
    app = create_app(home, readonly=True)
    async with app.run_test(size=(160, 48)) as pilot:
        deadline = time.monotonic() + 120
        while not (isinstance(app.screen, OverviewScreen) and getattr(app.screen, "loaded", None)):
            if time.monotonic() > deadline:
                raise TimeoutError("the overview did not load within 120 s")
            await asyncio.sleep(0.005)
        overview = time.perf_counter() - began
        pressed = time.perf_counter()
        await pilot.press("2")
        while not (isinstance(app.screen, RunsScreen) and app.screen.table.loaded_once):
            if time.monotonic() > deadline:
                raise TimeoutError("the runs screen did not load within 120 s")
            await asyncio.sleep(0.005)
        runs = time.perf_counter() - pressed
    return overview, runs


def store_figures(size: int, report: common.Report, final: bool, regen: bool) -> None:
    path = common.WORK / f"store-{size}"
    if regen or not gen_store.existing(path, size):
        print(f"  (generating {size:,} runs into {path} ...)", flush=True)
        result = gen_store.generate(path, size, quiet=True)
        print(f"  (generated in {result['seconds']:.1f} s, {result['rows_per_s']:,.0f} rows/s, "
              f"{result['mb']:,.0f} MB)", flush=True)
    home = Home(path)
    at = f"store {size:>9,}"
    baseline, _ = cli_ms([sys.executable, "-c", "import console.main"])
    report.add(f"{at}: CLI floor: python -c 'import console.main'", baseline, "ms")
    wall, out = cli_ms([*common.sluice_cli(), "runs", "--status", "running", "--json", "--home", str(path)])
    shown = len(json.loads(out)["runs"])
    note = f"{shown} runs shown; {'issue 6 target at 1M runs' if size >= 1_000_000 else 'target is for 1M runs'}"
    report.add(f"{at}: sluice runs --status running --json (wall)", wall, "ms",
               at_most=RUNS_CLI_TARGET_MS if final else None, note=note, key=f"store.{size}.cli")
    asyncio.run(engine_figures(home, size, report, final))
    try:
        imports, _ = cli_ms([sys.executable, "-c", "import console.tui.app"])
        overview, runs = asyncio.run(console_open(home))
        report.add(f"{at}: console: start to overview loaded (in-process)", overview * 1000, "ms")
        total = imports / 1000 + overview + runs
        report.add(f"{at}: console: runs screen opens (python + imports + overview + key 2)", total, "s",
                   at_most=CONSOLE_TARGET_S if final else None, key=f"store.{size}.console",
                   note=f"python+imports {imports:.0f} ms, overview {overview * 1000:.0f} ms, key 2 to window "
                        f"{runs * 1000:.0f} ms")
    except Exception as exc:  # the console is edited concurrently: report, do not stop the bench
        report.add(f"{at}: console: runs screen opens", None, "s", at_most=CONSOLE_TARGET_S if final else None,
                   note=f"error: {type(exc).__name__}: {exc}"[:200])
    probe = subprocess.run([sys.executable, __file__, "--scheduler-probe", str(path)], capture_output=True,
                           text=True, check=False, env=common.child_env())
    if probe.returncode != 0:
        report.add(f"{at}: scheduler peak RSS", None, "MB", note=probe.stderr.strip()[-200:])
        return
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    report.add(f"{at}: scheduler pass (no nodes), mean of {found['passes']}", found["pass_ms"], "ms")
    report.add(f"{at}: dispatch plan, 4 nodes x 4 free slots (read-only)", found["plan_ms"], "ms")
    report.add(f"{at}: scheduler process peak RSS", found["rss_mb"], "MB",
               at_most=SCHEDULER_RSS_TARGET_MB if final else None, note="no nodes connected; see bench_dispatch")


async def scheduler_probe(path: Path) -> dict[str, float]:
    """Run a Scheduler (no nodes) on the store for a few seconds; time its passes; time one dispatch plan."""
    from scheduler.config import NodeConfig
    from scheduler.planner import plan_dispatch
    from scheduler.process.loop import Scheduler
    from scheduler.process.settings import SchedulerSettings
    from scheduler.ssh.executor import SshExecutor
    from scheduler.store import open_database

    home = Home(path)
    pass_ms: list[float] = []

    class TimedScheduler(Scheduler):
        async def _pass(self) -> None:
            start = time.perf_counter()
            await super()._pass()
            common.timed_ms(pass_ms, start)

    settings = SchedulerSettings(tick=0.05, poll_interval=0.1, cleanup_interval=3600)
    scheduler = TimedScheduler(home, SshExecutor([]), [], settings=settings)
    stop = asyncio.Event()
    task = asyncio.ensure_future(scheduler.run(stop))
    await asyncio.sleep(3.0)
    stop.set()
    await task
    nodes = [NodeConfig(name=name, host="127.0.0.1", slots=4, labels=["linux"]) for name in gen_store.NODES]
    db = await open_database(home.db_path)
    try:
        await plan_dispatch(db, nodes, lambda name: (True, None), settings.scan_limit)
        plans: list[float] = []
        for _ in range(5):
            start = time.perf_counter()
            await plan_dispatch(db, nodes, lambda name: (True, None), settings.scan_limit)
            common.timed_ms(plans, start)
    finally:
        await db.close()
    return {"passes": len(pass_ms), "pass_ms": sum(pass_ms) / max(1, len(pass_ms)),
            "plan_ms": common.median(plans), "rss_mb": common.rss_mb()[1]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated run counts")
    parser.add_argument("--regen", action="store_true", help="generate the stores again even if complete")
    parser.add_argument("--figures", help="write figures as JSON here (for run_all.py)")
    parser.add_argument("--scheduler-probe", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scheduler_probe:
        print(json.dumps(asyncio.run(scheduler_probe(args.scheduler_probe))))
        return 0
    sizes = sorted(int(size) for size in args.sizes.split(","))
    report = common.Report(args.figures)
    print(f"bench_store: sizes {', '.join(f'{size:,}' for size in sizes)}; targets apply to {sizes[-1]:,}"
          + ("" if sizes[-1] >= 1_000_000 else " (issue 6 states them for 1,000,000 runs)"), flush=True)
    for size in sizes:
        store_figures(size, report, size == sizes[-1], args.regen)
    report.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
