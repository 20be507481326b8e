"""`sluice scheduler`: run the scheduler in the foreground until SIGTERM or SIGINT, printing each event to stderr
as it is committed (one line each: journald and log files read them as they come); jobs keep running."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from scheduler.config import NodeConfig, load_jobs, load_nodes
from scheduler.durations import format_duration
from scheduler.engine import Engine
from scheduler.home import Home
from scheduler.lock import SchedulerLock
from scheduler.process.loop import Scheduler
from scheduler.process.settings import SchedulerSettings
from scheduler.ssh.executor import SshExecutor

from . import journal
from .event_lines import EventPrinter


def run_scheduler(home: Home, poll_interval: float, node_lost_after: float, retention: float = 3600.0) -> int:
    home.require_writable()
    home.ensure()
    nodes = load_nodes(home.nodes_file)
    jobs = load_jobs(home.jobs_dir)  # refuse to start on an invalid job file: exit 2 naming it
    _refuse_if_running(home)
    _log_to_stderr()
    _say(f"sluice scheduler: home {home.root}, {len(nodes)} nodes, {len(jobs)} jobs; "
         f"polls every {format_duration(poll_interval)}, nodes lost after {format_duration(node_lost_after)}, "
         f"attempt folders kept {format_duration(retention)}; "
         "SIGTERM or Ctrl-C stops dispatching (jobs keep running on the workers)")
    if not nodes:
        _say(f"sluice scheduler: warning: no nodes in {home.nodes_file}; runs will wait", journal.WARNING)
    settings = SchedulerSettings(poll_interval=poll_interval, node_lost_after=node_lost_after, retention=retention)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_serve(home, nodes, settings))
    except BaseException:
        loop.close()
        raise  # e.g. another scheduler holds the lock: the CLI prints it
    # Stopped cleanly and everything is committed. Do not wait for executor threads (a hanging DNS lookup
    # of a node being connected to would hold the exit past the 2 s promise): leave at once.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _say(text: str, priority: int = journal.INFO) -> None:
    """One line of the scheduler's own on stderr, at its journal level."""
    print(journal.prefixed(text, priority, journal.is_journal(sys.stderr)), file=sys.stderr, flush=True)


def _log_to_stderr() -> None:
    """Library and scheduler log records on stderr; on the journal without our time (it keeps its own) and marked."""
    handler = logging.StreamHandler(sys.stderr)
    if journal.is_journal(sys.stderr):
        handler.setFormatter(journal.JournalFormatter("%(name)s %(levelname)s %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("asyncssh").setLevel(logging.WARNING)  # it logs every channel at INFO


def _refuse_if_running(home: Home) -> None:
    """Before the banner: a second scheduler says only that one is already running (SchedulerAlreadyRunning)."""
    # The scheduler takes the lock again when it starts; one starting in between is still refused then.
    lock = SchedulerLock(home.lock_path)
    lock.acquire()
    lock.release()


async def _serve(home: Home, nodes: list[NodeConfig], settings: SchedulerSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    scheduler = Scheduler(home, SshExecutor(nodes), nodes, settings=settings)
    async with await Engine.open(home) as engine:
        printer = await EventPrinter.from_now(engine, sys.stderr)
        printed = asyncio.Event()
        follower = asyncio.ensure_future(printer.follow(printed))
        try:
            await scheduler.run(stop)
        finally:
            printed.set()  # print what is left, its `scheduler_stopped` line included
            await follower
    _say("sluice scheduler: stopped; running jobs were left running and will be re-attached")
