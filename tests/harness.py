"""A Sluice home for end-to-end tests: job files, nodes, an in-process scheduler, and the real CLI as a subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scheduler.clock import Clock, utcnow
from scheduler.config import load_nodes
from scheduler.engine import Engine
from scheduler.home import Home, private_dir, write_private
from scheduler.process.loop import Scheduler
from scheduler.process.settings import SchedulerSettings
from scheduler.ssh.executor import SshExecutor
from scheduler.ssh.transport import TransportSettings

FAST = SchedulerSettings(tick=0.05, poll_interval=0.1, node_check_interval=0.5, cleanup_interval=3600)


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout.decode()

    def json(self) -> Any:
        return json.loads(self.stdout)


class SluiceHome:
    def __init__(self, root: Path, nodes_toml: str) -> None:
        self.root = root
        self.home = Home(root / "home")
        self.home.ensure()
        private_dir(self.home.jobs_dir)
        write_private(self.home.nodes_file, nodes_toml)
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.scheduler: Scheduler | None = None

    def add_job(self, name: str, toml: str) -> None:
        write_private(self.home.jobs_dir / f"{name}.toml", f'name = "{name}"\n' + toml)

    async def cli(self, *args: str, stdin: bytes | None = None, timeout: float = 60, prefix: Sequence[str] = (),
                  home: Path | None = None) -> CliResult:
        """The CLI in a subprocess on this home (or `home`); `prefix` runs it under another command, e.g. setpriv."""
        process = await asyncio.create_subprocess_exec(
            *prefix, sys.executable, "-m", "console.main", *args, "--home", str(home or self.home.root),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONWARNINGS": "error"},
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(stdin), timeout)
        assert process.returncode is not None
        return CliResult(process.returncode, stdout, stderr.decode())

    async def cli_json(self, *args: str) -> Any:
        result = await self.cli(*args, "--json")
        assert result.code == 0, result.stderr
        return result.json()

    async def submit(self, job: str, *params: str) -> int:
        args = ["submit", job]
        for param in params:
            args += ["-p", param]
        return int((await self.cli_json(*args))["run_id"])

    def make_scheduler(self, settings: SchedulerSettings = FAST, clock: Clock = utcnow,
                       **transport: float) -> Scheduler:
        nodes = load_nodes(self.home.nodes_file)
        executor = SshExecutor(nodes, TransportSettings(reconnect_max=1.0, **transport))
        return Scheduler(self.home, executor, nodes, settings=settings, clock=clock)

    async def run_until_idle(self, settings: SchedulerSettings = FAST, clock: Clock = utcnow,
                             timeout: float = 60) -> None:
        """Run a scheduler until nothing more can happen now, then stop it (arq's burst mode)."""
        self.scheduler = self.make_scheduler(settings, clock)
        await asyncio.wait_for(self.scheduler.run_until_idle(), timeout)

    async def start_scheduler(self, settings: SchedulerSettings = FAST, clock: Clock = utcnow,
                              **transport: float) -> Scheduler:
        self.scheduler = self.make_scheduler(settings, clock, **transport)
        self._stop = asyncio.Event()
        self._task = asyncio.ensure_future(self.scheduler.run(self._stop))
        await asyncio.sleep(0.05)
        if self._task.done():
            self._task.result()
        return self.scheduler

    async def stop_scheduler(self) -> None:
        if self._stop is not None and self._task is not None:
            self._stop.set()
            await asyncio.wait_for(self._task, 10)
            self._stop = self._task = None

    async def engine(self) -> Engine:
        return await Engine.open(self.home)

    async def run_json(self, run_id: int) -> dict[str, Any]:
        async with await self.engine() as engine:
            from console.cli.output import RunDetailOut

            detail = await engine.run_detail(run_id)
            return RunDetailOut.of_detail(detail, None).model_dump()

    async def wait_for(self, run_id: int, statuses: set[str], timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        async with await self.engine() as engine:
            while True:
                run = await engine.run(run_id)
                if run.status in statuses:
                    return await self.run_json(run_id)
                if time.monotonic() > deadline:
                    raise AssertionError(f"run {run_id} is {run.status}, not {statuses} after {timeout}s: "
                                         f"{await self.run_json(run_id)}")
                if self._task is not None and self._task.done():
                    self._task.result()
                await asyncio.sleep(0.05)

    async def wait_ended(self, run_id: int, timeout: float = 30) -> dict[str, Any]:
        return await self.wait_for(run_id, {"succeeded", "failed", "cancelled", "timed_out"}, timeout)
