"""`sluice demo`: three in-process SSH workers on loopback, the sample jobs, a realistic mix, the scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import shutil
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from console.demo.ending import INTERRUPTED, TERMINATED, TermSignal, status_counts, summary_lines
from console.demo.localnode import LocalFleet, node_toml_table
from console.demo.reaper import new_fleet_id, reap
from console.demo.watchdog import Watchdog
from scheduler.config import load_nodes
from scheduler.engine import Engine
from scheduler.home import Home, private_dir, write_private
from scheduler.process.loop import Scheduler
from scheduler.process.settings import SchedulerSettings
from scheduler.ssh.executor import SshExecutor
from scheduler.states import ENDED, RunStatus

from ..cli.event_lines import EventPrinter
from ..samples import sample_jobs_dir

WORKERS = ("worker-1", "worker-2", "worker-3")
#: job -> the status the demo expects it to end in.
#: How each job of the mix ends when it ends as designed; the others succeed.
EXPECTED = {"doomed_migration": RunStatus.FAILED}


class DemoWorld:
    """The demo's workers and scheduler, all in one event loop."""

    def __init__(self, root: Path, long_chunks: int = 12, fleet_id: str | None = None) -> None:
        self.root = root
        #: The long export's length in 1 s chunks.
        self.long_chunks = long_chunks
        self.home = Home(root / "home")
        # Its jobs die with it: a demo's worker is this process, nothing should outlive it there.
        self.fleet = LocalFleet(root / "keys", reap_jobs=True, fleet_id=fleet_id)
        self.stop = asyncio.Event()
        self.scheduler_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.home.ensure()
        private_dir(self.home.jobs_dir)
        for sample in sample_jobs_dir().glob("*.toml"):
            if sample.stem != "nightly_rollup":  # a cron job would only clutter a short demo
                shutil.copyfile(sample, self.home.jobs_dir / sample.name)
        tables = []
        for name in WORKERS:
            info = await self.fleet.start_node(name)
            tables.append(node_toml_table(
                name=name, host=info.host, port=info.port, user=getpass.getuser(),
                identity_file=self.fleet.client_key_path, known_hosts=self.fleet.known_hosts_path, slots=3,
                labels=["etl"] if name != "worker-3" else ["etl", "scan"],
                workdir=str(self.root / "workers" / name)))
        write_private(self.home.nodes_file, "\n".join(tables))
        nodes = load_nodes(self.home.nodes_file)
        scheduler = Scheduler(self.home, SshExecutor(nodes), nodes, settings=SchedulerSettings(poll_interval=0.3))
        self.scheduler_task = asyncio.ensure_future(scheduler.run(self.stop))

    async def submit_mix(self) -> list[int]:
        async with await Engine.open(self.home) as engine:
            run_ids = []
            for who in ("alice", "bob", "carol"):
                run_ids.append((await engine.submit("hello", {"who": who}))[0])
            for region in ("eu-west", "us-east"):
                run_ids.append((await engine.submit("daily_report", {"region": region}))[0])
            run_ids.append((await engine.submit("long_export", {"chunks": str(self.long_chunks),
                                                                "chunk_seconds": "1"}))[0])
            run_ids.append((await engine.submit("flaky_sync", {}))[0])
            run_ids.append((await engine.submit("doomed_migration", {}))[0])
            today = datetime.now(UTC).date()
            first, last = str(today - timedelta(days=5)), str(today - timedelta(days=1))
            for job in ("etl_extract", "etl_transform", "etl_load"):
                plan = await engine.plan_backfill(job, range_from=first, range_to=last, max_parallel=2)
                _, ids = await engine.create_backfill(plan)
                run_ids += ids
            return run_ids

    async def close(self) -> None:
        self.stop.set()
        if self.scheduler_task is not None:
            await self.scheduler_task
        await self.fleet.close()


async def _follow(world: DemoWorld, run_ids: list[int]) -> bool:
    """Print events as they happen until every run of the mix has ended; True when each ended as expected."""
    async with await Engine.open(world.home) as engine:
        # The same lines as `sluice scheduler` prints, only those that move a run.
        printer = EventPrinter(engine, sys.stdout, 0, keep=lambda event: event.run_id is not None
                               and event.new_status is not None)
        while True:
            await printer.print_new()
            runs = [await engine.run(run_id) for run_id in run_ids]
            if all(run.status in ENDED for run in runs):
                break
            await asyncio.sleep(0.5)
        await printer.print_new()  # the last runs' endings
        print()
        ok = True
        for run in runs:
            expected = EXPECTED.get(run.job, RunStatus.SUCCEEDED)
            mark = "ok " if run.status == expected else "UNEXPECTED"
            ok &= run.status == expected
            print(f"{mark:<4} run {run.id:>3}  {run.job:<17} {run.partition or '':<11} {run.status:<10} "
                  f"attempts {run.attempt}")
        return ok


async def _headless(world: DemoWorld, term: TermSignal) -> int:
    main = asyncio.current_task()
    assert main is not None
    term.stop_with(main.cancel)
    try:
        await world.start()
        run_ids = await world.submit_mix()
        print(f"sluice demo: home {world.home.root}; 3 workers on loopback; {len(run_ids)} runs submitted\n")
        ok = await _follow(world, run_ids)
    except asyncio.CancelledError:
        if not term.received:
            raise
        return TERMINATED
    finally:
        # A second SIGTERM must not cut the cleanup short (SIGKILL can: then it is the watchdog's job).
        term.stop_with(_ignore)
        await world.close()
    print("\ndemo complete: every run ended as expected" if ok else "\ndemo: some runs did not end as expected")
    return 0 if ok else 1


def _ignore() -> None:
    """A stop that does nothing: the demo is already stopping."""


def _with_console(world: DemoWorld, term: TermSignal) -> int:
    """Workers and scheduler in a background thread's loop; the console owns the main thread."""
    from ..tui.app import create_app

    ready, started = threading.Event(), threading.Event()
    loops: list[asyncio.AbstractEventLoop] = []

    def background() -> None:
        async def main() -> None:
            loops.append(asyncio.get_running_loop())
            try:
                await world.start()
                await world.submit_mix()
                started.set()
                ready.set()
                await world.stop.wait()
            finally:
                ready.set()
                await world.close()

        asyncio.run(main())

    thread = threading.Thread(target=background, name="sluice-demo", daemon=True)
    thread.start()
    try:
        ready.wait(60)
        if not started.is_set():
            print("sluice demo: the workers did not start", file=sys.stderr)
            return 1
        app = create_app(world.home)  # run_console's two lines, with the app at hand for SIGTERM

        def quit_terminated() -> None:
            app.exit(return_code=TERMINATED)

        term.stop_with(quit_terminated)
        app.run()
        return app.return_code or 0
    finally:
        term.stop_with(_ignore)
        if loops:
            with contextlib.suppress(RuntimeError):  # the loop already ended: the world closed itself
                loops[0].call_soon_threadsafe(world.stop.set)
        thread.join(60)


def run_demo(root: Path | None, console: bool = True, long_chunks: int | None = None) -> int:
    """Run the demo in root (kept), or in a throwaway folder removed however the demo ends."""
    kept = root is not None
    folder = root or Path(tempfile.mkdtemp(prefix="sluice-demo-"))
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fleet_id = new_fleet_id()
    # Started before any job: if the demo is killed outright, the watchdog still reaps and removes.
    watchdog = Watchdog(fleet_id, None if kept else folder)
    interactive = console and sys.stdout.isatty()
    # The long export: short headless, long enough to watch in the console.
    world = DemoWorld(folder, long_chunks or (300 if interactive else 12), fleet_id=fleet_id)
    term = TermSignal()
    try:
        with term:
            return _with_console(world, term) if interactive else asyncio.run(_headless(world, term))
    except KeyboardInterrupt:
        return INTERRUPTED
    except SystemExit:
        if not term.received:
            raise
        return TERMINATED
    finally:
        reap(fleet_id)  # the world reaped its jobs when it closed, unless it never got that far
        counts = status_counts(world.home)
        if not kept:
            shutil.rmtree(folder, ignore_errors=True)
        watchdog.release()
        print("\n".join(summary_lines(counts, folder, world.home, kept)))
