"""Worker folder cleanup: only nodes that answer are asked, so a silent node's backlog never uses up the
budget of the others, and its folders are removed once it answers again."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness import FAST, SluiceHome
from reliability import store_rows

from console.demo.localnode import LocalFleet
from scheduler.models import to_iso
from scheduler.states import AttemptStatus
from scheduler.store import open_database
from scheduler.store import queries as q

#: How many attempts one cleanup pass selects (queries.attempts_to_clean's limit).
BUDGET = inspect.signature(q.attempts_to_clean).parameters["limit"].default


async def eventually(check: Callable[[], Any], what: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g}s"
        await asyncio.sleep(0.1)
    return value


def uncleaned(home: SluiceHome, node: str) -> list[str]:
    return [row["remote_dir"] for row in store_rows(
        home, "SELECT remote_dir FROM attempts WHERE node = ? AND cleaned = 0 ORDER BY id", node)]


async def test_a_silent_nodes_backlog_never_holds_back_cleanup_on_nodes_that_answer(tmp_path: Path) -> None:
    async with LocalFleet(tmp_path / "keys") as fleet:
        await fleet.start_node("n1")
        await fleet.start_node("n2")
        home = SluiceHome(tmp_path, fleet.nodes_toml(slots=2, labels={"n1": ["a"], "n2": ["b"]},
                                                     workdir=str(tmp_path / "workers")))
        home.add_job("on_a", 'command = "echo a"\nlabels = ["a"]\n')
        home.add_job("on_b", 'command = "echo b"\nlabels = ["b"]\n')
        # The default retention keeps every folder while the history is made.
        await home.start_scheduler(FAST)
        try:
            on_b = await home.submit("on_b")
            await home.wait_ended(on_b)
            # A backlog on n2 as long as one pass's budget, ahead of n1's attempts in id order. Written with the
            # store's own queries: running that many jobs only to end them would take minutes on a loaded machine.
            db = await open_database(home.home.db_path)
            try:
                async with db.write() as conn:
                    ended = to_iso(home.scheduler.clock())  # type: ignore[union-attr]
                    for number in range(2, BUDGET + 2):
                        attempt_id = await q.insert_attempt(conn, on_b, number, "n2",
                                                            str(tmp_path / "workers" / f"gone-{number}"), None, ended)
                        await q.transition_attempt(conn, attempt_id, AttemptStatus.RUNNING)
                        await q.transition_attempt(conn, attempt_id, AttemptStatus.SUCCEEDED, reason="exit",
                                                   exit_code=0, ended_at=ended)
            finally:
                await db.close()
            on_a = [await home.submit("on_a") for _ in range(2)]
            for run_id in on_a:
                await home.wait_ended(run_id)
        finally:
            await home.stop_scheduler()
        n1_folders = [Path(remote) for remote in uncleaned(home, "n1")]
        n2_real = Path(uncleaned(home, "n2")[0])
        assert len(n1_folders) == 2 and all(folder.is_dir() for folder in n1_folders + [n2_real])

        await fleet.stop_node("n2")
        await home.start_scheduler(replace(FAST, retention=0.0, cleanup_interval=0.2))
        try:
            await eventually(lambda: not uncleaned(home, "n1"), "n1's folders cleaned while n2 is silent", 30)
            silent = uncleaned(home, "n2")
            await fleet.start_node("n2")
            await eventually(lambda: not uncleaned(home, "n2"), "n2's folders cleaned once it answers", 30)
        finally:
            await home.stop_scheduler()
    assert not any(folder.exists() for folder in n1_folders)
    assert len(silent) == BUDGET + 1, "nothing is recorded cleaned on a node that does not answer"
    assert not n2_real.exists(), "the silent node's folders are removed once it is back"
