"""What the CLI tells the operator: the foreground scheduler's event lines, a second scheduler's refusal, `logs -f`
on a queued run, the backfill verbs' confirmations and the retry of a succeeded run; all through the real CLI."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from harness import SluiceHome
from test_console_support import JOBS, NODES

from console.cli.event_lines import event_line, wants_color
from console.demo.localnode import LocalFleet
from scheduler.models import Event
from scheduler.states import EventKind, RunStatus


@pytest.fixture
async def fleet_home(tmp_path: Path) -> AsyncIterator[SluiceHome]:
    async with LocalFleet(tmp_path / "keys") as fleet:
        await fleet.start_node("n1")
        home = SluiceHome(tmp_path, fleet.nodes_toml(slots=2, workdir=str(tmp_path / "workers")))
        home.add_job("hello", 'command = "echo hello from the job"\n')
        try:
            yield home
        finally:
            await home.stop_scheduler()


async def _spawn(home: SluiceHome, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "console.main",
        *args,
        "--home",
        str(home.home.root),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


async def _read_until(
    stream: asyncio.StreamReader, pattern: str, seen: list[str], timeout: float = 30
) -> str:
    """Lines of `stream` (kept in `seen`) until one matches `pattern`; fails with what came after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no line matching {pattern!r} within {timeout:g}s; got:\n" + "".join(seen)
        try:
            line = (await asyncio.wait_for(stream.readline(), left)).decode()
        except TimeoutError:
            continue
        assert line, f"the stream ended before a line matching {pattern!r}; got:\n" + "".join(seen)
        seen.append(line)
        if re.search(pattern, line):
            return line


async def _stop(process: asyncio.subprocess.Process) -> int:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(process.wait(), 30)


async def test_the_foreground_scheduler_prints_one_line_per_event_as_it_happens(
    fleet_home: SluiceHome,
) -> None:
    scheduler = await _spawn(fleet_home, "scheduler", "--poll-interval", "100ms")
    assert scheduler.stderr is not None
    seen: list[str] = []
    try:
        await _read_until(scheduler.stderr, r"\bscheduler_started\b", seen)
        run_id = await fleet_home.submit("hello")
        started = await _read_until(scheduler.stderr, rf"\battempt_started\b.*\brun {run_id}\b", seen)
        ended = await _read_until(scheduler.stderr, rf"\battempt_ended\b.*\brun {run_id}\b.*succeeded", seen)
    finally:
        code = await _stop(scheduler)
    rest = (await scheduler.stderr.read()).decode()
    assert code == 0, "".join(seen) + rest
    # One line each, with the time first, no colour codes when not on a terminal.
    for line in (started, ended):
        assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC ", line), line
        assert "\x1b[" not in line
    assert "scheduler_stopped" in rest


async def test_a_second_scheduler_prints_only_that_one_is_already_running(tmp_path: Path) -> None:
    home = SluiceHome(tmp_path, NODES)
    await home.start_scheduler()
    try:
        result = await home.cli("scheduler")
    finally:
        await home.stop_scheduler()
    assert result.code == 1
    assert result.stdout == b""
    assert result.stderr.splitlines() == [
        f"sluice: error: another scheduler is already running for {home.home.root} (pid {os.getpid()}); "
        "stop it first, or use another --home"
    ]


async def test_logs_follow_of_a_queued_run_waits_for_it_to_start_then_follows_it(
    fleet_home: SluiceHome,
) -> None:
    fleet_home.add_job("ticker", 'command = "for i in 1 2 3; do echo tick $i; sleep 0.2; done"\n')
    run_id = await fleet_home.submit("ticker")
    follower = await _spawn(fleet_home, "logs", str(run_id), "-f")
    assert follower.stderr is not None and follower.stdout is not None
    try:
        waiting = await _read_until(follower.stderr, "waiting", [])
        assert waiting == f"run {run_id} is queued; waiting for it to start\n"
        await fleet_home.start_scheduler()
        stdout = await asyncio.wait_for(follower.stdout.read(), 30)
        code = await asyncio.wait_for(follower.wait(), 30)
    finally:
        if follower.returncode is None:
            follower.kill()
            await follower.wait()
    assert stdout == b"tick 1\ntick 2\ntick 3\n"
    assert code == 0
    assert (await fleet_home.run_json(run_id))["status"] == "succeeded"


async def test_logs_of_a_queued_run_without_follow_still_says_it_has_no_output(tmp_path: Path) -> None:
    home = SluiceHome(tmp_path, NODES)
    home.add_job("hello", JOBS["hello"])
    run_id = await home.submit("hello")
    result = await home.cli("logs", str(run_id))
    assert result.code == 2
    assert "has not started yet" in result.stderr


async def test_every_backfill_verb_confirms_what_it_did_in_a_sentence(tmp_path: Path) -> None:
    home = SluiceHome(tmp_path, NODES)
    home.add_job("etl", JOBS["etl"])
    created = await home.cli_json("backfill", "etl", "--from", "2026-11-01", "--to", "2026-11-03")
    backfill = str(created["backfill_id"])

    async def said(*args: str) -> list[str]:
        result = await home.cli(*args)
        assert result.code == 0, result.stderr
        return result.text.splitlines()

    assert await said("backfill-set", backfill, "--max-parallel", "5") == [
        f"backfill {backfill}: max parallel set to 5"
    ]
    assert await said("backfill-pause", backfill) == [
        f"backfill {backfill}: paused; its queued runs wait until it is resumed"
    ]
    assert await said("backfill-resume", backfill) == [
        f"backfill {backfill}: resumed; its queued runs may start (a canary hold is released)"
    ]
    assert await said("backfill-retry-failed", backfill) == [f"backfill {backfill}: no failed runs to retry"]
    assert await said("backfill-cancel", backfill) == [
        *(f"run {run_id} cancelled" for run_id in created["run_ids"]),
        f"backfill {backfill}: cancelled; 3 queued runs cancelled, running runs left to finish",
    ]


async def test_retry_of_a_failed_backfill_partition_counts_the_runs_queued_again(tmp_path: Path) -> None:
    home = SluiceHome(tmp_path, NODES)
    home.add_job("etl", JOBS["etl"])
    created = await home.cli_json("backfill", "etl", "--from", "2026-11-01", "--to", "2026-11-02")
    backfill = str(created["backfill_id"])
    assert (await home.cli("cancel", *(str(run_id) for run_id in created["run_ids"]))).code == 0
    result = await home.cli("backfill-retry-failed", backfill)
    assert result.code == 0, result.stderr
    assert result.text.splitlines() == [
        *(f"run {run_id} queued for attempt 1" for run_id in created["run_ids"]),
        f"backfill {backfill}: 2 unsuccessful runs queued again",
    ]


async def test_retry_of_a_succeeded_run_is_refused_unless_forced(fleet_home: SluiceHome) -> None:
    run_id = await fleet_home.submit("hello")
    await fleet_home.run_until_idle()
    assert (await fleet_home.run_json(run_id))["status"] == "succeeded"

    refused = await fleet_home.cli("retry", str(run_id))
    assert refused.code == 2
    assert refused.stdout == b""
    assert refused.stderr == (
        f"sluice: error: run {run_id} already succeeded; give --force to run it again\n"
    )
    assert (await fleet_home.run_json(run_id))["status"] == "succeeded", "nothing was queued"

    forced = await fleet_home.cli("retry", str(run_id), "--force")
    assert forced.code == 0, forced.stderr
    assert forced.text == f"run {run_id} already succeeded; running it again: queued for attempt 2\n"
    assert (await fleet_home.run_json(run_id))["status"] == "queued"


async def test_retry_json_says_when_it_re_runs_a_succeeded_run(fleet_home: SluiceHome) -> None:
    fleet_home.add_job("broken", 'command = "exit 3"\n')
    succeeded, failed = await fleet_home.submit("hello"), await fleet_home.submit("broken")
    await fleet_home.run_until_idle()

    refused = await fleet_home.cli("retry", str(failed), str(succeeded), "--json")
    assert refused.code == 2, "one succeeded run among them: nothing is done"
    assert (await fleet_home.run_json(failed))["status"] == "failed"

    results = (await fleet_home.cli_json("retry", str(failed), str(succeeded), "--force"))["results"]
    assert [(r["run_id"], r["ok"], r["rerun_succeeded"]) for r in results] == [
        (failed, True, False),
        (succeeded, True, True),
    ]
    assert (
        results[1]["message"] == f"run {succeeded} already succeeded; running it again: queued for attempt 2"
    )


async def test_logs_follow_of_a_run_follows_its_retry_until_the_run_ends(fleet_home: SluiceHome) -> None:
    gate = fleet_home.root / "gate"
    # The first attempt fails only once the test has seen its output: the follower is surely on attempt 1.
    fleet_home.add_job(
        "second_time",
        f"""
command = '''
if [ "$SLUICE_ATTEMPT" = 1 ]; then
  echo first; n=0; until [ -e {gate} ]; do n=$((n + 1)); if [ $n -gt 2400 ]; then break; fi; sleep 0.05; done
  exit 3
fi
echo second
'''
[retry]
max_attempts = 2
backoff = 0.1
""",
    )
    await fleet_home.start_scheduler()
    run_id = await fleet_home.submit("second_time")
    follower = await _spawn(fleet_home, "logs", str(run_id), "-f")
    assert follower.stdout is not None and follower.stderr is not None
    try:
        assert await _read_until(follower.stdout, "first", []) == "first\n"
        gate.touch()
        rest = await asyncio.wait_for(follower.stdout.read(), 30)
        code = await asyncio.wait_for(follower.wait(), 30)
    finally:
        if follower.returncode is None:
            follower.kill()
            await follower.wait()
    assert (rest, code) == (b"second\n", 0)
    # Whether it printed "waiting for the next attempt" depends on whether the retry had started when attempt 1's
    # output ended (backoff 0.1 s): a race, so only the output and the exit are asserted.
    assert (await fleet_home.run_json(run_id))["attempt"] == 2


def test_event_lines_are_coloured_only_on_a_terminal_without_no_color(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failed = Event(
        id=1,
        at="2026-12-02T14:57:29.000001Z",
        run_id=7,
        attempt=1,
        kind=EventKind.ATTEMPT_ENDED,
        old_status=RunStatus.RUNNING,
        new_status=RunStatus.FAILED,
        actor="scheduler",
        detail="exit code 3",
    )
    plain = "2026-12-02 14:57:29 UTC attempt_ended     run 7     running -> failed      exit code 3"
    assert event_line(failed) == plain
    assert event_line(failed, color=True) == plain.replace(
        "attempt_ended    ", "\x1b[31mattempt_ended    \x1b[0m"
    )
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    main, other = os.openpty()
    read, write = os.pipe()
    with open(other, "w") as terminal, open(write, "w") as pipe:
        assert wants_color(terminal) and not wants_color(pipe)
        monkeypatch.setenv("NO_COLOR", "1")
        assert not wants_color(terminal)
    os.close(main)
    os.close(read)
