"""Log capture on the bastion that survives its own trouble: a log file cut short, a disk that fills up."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from harness import SluiceHome
from reliability import FaultFigures, ledger_duplicates, report, store_vs_worker_bytes

from console.demo.localnode import LocalFleet
from scheduler.logstore import gap_filler

FIRST_OUT = b"a" * 1000 + b"\n"
FIRST_ERR = b"err one\n"
SECOND_OUT = b"two: after the gap\n"
SECOND_ERR = b"err two\n"


@pytest.fixture
async def home(tmp_path: Path) -> AsyncIterator[SluiceHome]:
    """Two in-process SSH nodes with 2 slots each; the scheduler is not started."""
    async with LocalFleet(tmp_path / "keys") as fleet:
        await fleet.start_node("n1")
        await fleet.start_node("n2")
        sluice = SluiceHome(tmp_path, fleet.nodes_toml(slots=2, workdir=str(tmp_path / "workers")))
        try:
            yield sluice
        finally:
            await sluice.stop_scheduler()


async def until(what: str, check: Callable[[], Awaitable[object]], timeout: float = 30) -> object:
    """Wait for `check` to return something truthy, or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout}s: {what}")
        await asyncio.sleep(0.05)


async def events_of(home: SluiceHome, kind: str) -> list[dict]:  # type: ignore[type-arg]
    return list((await home.cli_json("events", "--kind", kind))["events"])


async def test_a_log_file_cut_short_on_the_bastion_is_recorded_as_a_gap_and_capture_goes_on(
        home: SluiceHome) -> None:
    release = home.root / "release"
    ledger = home.root / "ledger"
    home.add_job("twice", f"""
command = '''echo start >> {ledger}; printf '%s\\n' "$(printf 'a%.0s' $(seq 1000))"; printf 'err one\\n' >&2
while [ ! -e {release} ]; do sleep 0.05; done
printf 'two: after the gap\\n'; printf 'err two\\n' >&2'''
""")
    await home.start_scheduler()
    run_id = await home.submit("twice")
    async with await home.engine() as engine:
        async def first_part_captured() -> object:
            attempt = await engine.attempt(run_id)
            return attempt and (attempt.stdout_offset, attempt.stderr_offset) == (len(FIRST_OUT), len(FIRST_ERR))

        await until("the first writes are on the bastion", first_part_captured)
        attempt = await engine.attempt(run_id)
        assert attempt is not None
        stdout_path = engine.logs.path(run_id, attempt.number, "stdout")
        stderr_path = engine.logs.path(run_id, attempt.number, "stderr")
        assert stdout_path.read_bytes() == FIRST_OUT
        stdout_path.unlink()  # someone cleaned HOME/logs
        os.truncate(stderr_path, 3)
        release.touch()
        cut_at = time.monotonic()
        run = await home.wait_ended(run_id, timeout=20)
        recover = time.monotonic() - cut_at
        assert run["status"] == "succeeded" and [a["reason"] for a in run["attempts"]] == ["exit"]
        stdout = engine.read_log(run_id, attempt.number, "stdout")
        stderr = engine.read_log(run_id, attempt.number, "stderr")
    gaps = await events_of(home, "log_gap")
    starts, duplicated = ledger_duplicates(ledger)
    report(FaultFigures(
        "bastion log file cut short while the job runs", "the stdout file in HOME/logs deleted and the stderr "
        "file truncated to 3 bytes between two writes of the job", 1,
        int(run["status"] != "succeeded" or starts == 0), duplicated, store_vs_worker_bytes(home, in_place=True),
        round(recover, 2), "tests/test_log_capture.py",
        f"log bytes lost counted in place (bastion against worker, byte by byte): the fault removed "
        f"{len(FIRST_OUT)} + {len(FIRST_ERR) - 3} bytes on the bastion, which stay a gap of filler at their "
        f"offsets (a filler byte that happens to equal the original is not counted); {len(gaps)} log_gap "
        f"events; recovery counted from the job's release after the cut"))
    assert stdout == gap_filler(len(FIRST_OUT)) + SECOND_OUT, "later bytes must sit at their own offsets"
    assert stderr == FIRST_ERR[:3] + gap_filler(len(FIRST_ERR) - 3) + SECOND_ERR
    gaps = await events_of(home, "log_gap")
    assert len(gaps) == 2, "each gap is recorded once"
    assert {(e["run_id"], e["attempt"]) for e in gaps} == {(run_id, 1)}
    details = sorted(e["detail"] for e in gaps)
    assert "stderr" in details[0] and f"{len(FIRST_ERR) - 3} bytes" in details[0]
    assert "stdout" in details[1] and f"{len(FIRST_OUT)} bytes" in details[1]
    assert not await events_of(home, "log_capture_failed")


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def small_logs_fs(home: SluiceHome) -> Iterator[Path]:
    """A 512 KiB tmpfs mounted over the home's logs folder (only the logs: the store stays on the real disk)."""
    logs = home.home.logs_dir
    mounted = _mount("-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", str(logs))
    if mounted.returncode != 0:
        reason = f"cannot mount a small tmpfs over {logs}: {mounted.stderr.strip() or mounted.returncode}"
        if os.environ.get("SLUICE_REQUIRE_SSHD") == "1":
            pytest.fail(f"{reason} (SLUICE_REQUIRE_SSHD=1 forbids skipping)")
        pytest.skip(reason)
    try:
        yield logs
    finally:
        subprocess.run(["umount", "-l", str(logs)], check=False)


async def test_a_full_bastion_disk_stalls_capture_loses_nothing_and_resumes_with_one_event_each(
        home: SluiceHome, small_logs_fs: Path) -> None:
    expected = b"".join(b"%d\n" % i for i in range(1, 200_001))  # about 1.3 MB, far more than 512 KiB
    ledger = home.root / "ledger"
    home.add_job("chatty", f"command = 'echo start >> {ledger}; seq 1 200000'\n")
    home.add_job("quiet", "command = 'true'\n")
    await home.start_scheduler()
    run_id = await home.submit("chatty")
    stalled = await until("a log_capture_stalled event", lambda: events_of(home, "log_capture_stalled"))
    assert isinstance(stalled, list) and stalled[0]["run_id"] == run_id and "No space left" in stalled[0]["detail"]
    async with await home.engine() as engine:
        attempt = await engine.attempt(run_id)
        assert attempt is not None
        worker_stdout = Path(attempt.remote_dir) / "stdout"

        async def all_written_on_worker() -> bool:
            return worker_stdout.exists() and worker_stdout.stat().st_size == len(expected)

        await until("the job wrote everything on the worker", all_written_on_worker)
        # Several more passes and probes while the disk stays full: quiet jobs (no output) still go through.
        for _ in range(3):
            quiet = await home.submit("quiet")
            assert (await home.wait_ended(quiet))["status"] == "succeeded"
        attempt = await engine.attempt(run_id)
        assert attempt is not None and attempt.status == "running", "bytes are missing: the attempt must not end"
        assert attempt.stdout_offset < len(expected) and attempt.log_error  # stalled short of the end
        assert worker_stdout.stat().st_size == len(expected), "nothing is lost on the worker side"
        assert len(await events_of(home, "log_capture_stalled")) == 1, "once per stall, not once per poll"
        assert not await events_of(home, "log_capture_resumed")
        stalled_offset = attempt.stdout_offset
        assert _mount("-o", "remount,size=64m", str(small_logs_fs)).returncode == 0  # space returns
        freed_at = time.monotonic()
        run = await home.wait_ended(run_id, timeout=30)
        recover = time.monotonic() - freed_at
        starts, duplicated = ledger_duplicates(ledger)
        report(FaultFigures(
            "bastion disk full under the log store", "a 512 KiB tmpfs over HOME/logs, a job printing "
            f"{len(expected)} bytes, 3 quiet jobs run meanwhile; then remounted at 64 MiB", 4,
            int(run["status"] != "succeeded" or starts == 0), duplicated, store_vs_worker_bytes(home),
            round(recover, 2), "tests/test_log_capture.py",
            f"attempt kept running, its committed stdout offset {stalled_offset} of {len(expected)} bytes while "
            f"the worker held all of them; 3 quiet runs succeeded meanwhile; recovery counted from the remount"))
        assert run["status"] == "succeeded"
        assert engine.read_log(run_id, attempt.number, "stdout") == expected
        final = await engine.attempt(run_id)
        assert final is not None and final.log_error is None
    resumed = await events_of(home, "log_capture_resumed")
    assert len(resumed) == 1 and resumed[0]["run_id"] == run_id
    assert re.search(r"stalled for \d+(\.\d+)?s", resumed[0]["detail"]), resumed[0]["detail"]
    assert len(await events_of(home, "log_capture_stalled")) == 1
