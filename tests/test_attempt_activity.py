"""Per-attempt activity (Cylc's job-activity.log), over an in-process asyncssh node: every launch try with its
answer, a failing probe once however many polls fail, the signals of a cancel; read through `sluice activity`."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from harness import FAST, SluiceHome

from console.demo.localnode import LocalFleet


def _flaky_wrapper(folder: Path) -> Path:
    """A wrapper around every command on the node: while `launch_exit` exists, the next launch command says it
    is out of disk space and exits with the code in that file (once); while `say` exists, every command greets
    first (a probe then fails: its output is not the probe's); `said` counts the greetings."""
    folder.mkdir(exist_ok=True)
    wrapper = folder / "flaky"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'dir="{folder}"\n'
        'case "$*" in *"Sluice launcher"*)\n'
        '  if [ -f "$dir/launch_exit" ]; then code=$(cat "$dir/launch_exit"); rm -f "$dir/launch_exit";\n'
        '    echo "mkdir: No space left on device" >&2; exit "$code"; fi;;\n'
        "esac\n"
        'if [ -f "$dir/say" ]; then cat "$dir/say"; echo x >>"$dir/said"; fi\n'
        'exec "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper


@pytest.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[LocalFleet]:
    wrapper = _flaky_wrapper(tmp_path / "shell")
    async with LocalFleet(tmp_path / "keys", keepalive_interval=0.5) as local:
        await local.start_node("n1", wrapper=[str(wrapper)])
        yield local


@pytest.fixture
def home(tmp_path: Path, fleet: LocalFleet) -> SluiceHome:
    return SluiceHome(tmp_path, fleet.nodes_toml(slots=1, workdir=str(tmp_path / "workers")))


async def _until(condition: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := await _value(condition())):
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
    return value


async def _value(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


async def _activity(home: SluiceHome, run_id: int) -> list[dict[str, Any]]:
    """The run's activity as the engine gives it to the CLI and console (read in process: polled often)."""
    async with await home.engine() as engine:
        return [
            {"attempt": e.attempt, "action": e.action, "outcome": e.outcome, "detail": e.detail}
            for e in await engine.activity(run_id)
        ]


def _steps(activity: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    return [(entry["attempt"], entry["action"], entry["outcome"]) for entry in activity]


async def test_a_launch_that_fails_on_the_node_then_succeeds_lists_both_tries_with_the_error(
    home: SluiceHome, tmp_path: Path
) -> None:
    (tmp_path / "shell" / "launch_exit").write_text("73")  # launch.sh's "could not create the folder"
    home.add_job("quick", 'command = "echo hi"\n')
    await home.start_scheduler()
    try:
        run_id = await home.submit("quick")
        run = await home.wait_ended(run_id)
    finally:
        await home.stop_scheduler()
    assert run["status"] == "succeeded" and [a["reason"] for a in run["attempts"]] == [
        "launch_failed",
        "exit",
    ]
    shown = (await home.cli_json("activity", str(run_id)))["activity"]
    assert set(shown[0]) == {"at", "attempt", "action", "outcome", "detail"}
    assert _steps(shown)[:5] == [
        (1, "launch", "sent"),
        (1, "launch", "failed"),
        (1, "end", "ended"),
        (2, "launch", "sent"),
        (2, "launch", "started"),
    ]
    assert "No space left on device" in shown[1]["detail"] and "exit 73" in shown[1]["detail"]
    assert _steps(shown)[-1] == (2, "end", "ended")
    assert [
        e["attempt"] for e in (await home.cli_json("activity", str(run_id), "--attempt", "2"))["activity"]
    ] == [2] * (len(shown) - 3)
    table = (await home.cli("activity", str(run_id))).text
    assert "TRY" in table and "No space left on device" in table
    missing = await home.cli("activity", str(run_id + 1))
    assert missing.code != 0 and f"run {run_id + 1} does not exist" in missing.stderr


async def test_a_launch_with_no_readable_answer_is_tried_again_and_each_try_is_listed(
    home: SluiceHome, tmp_path: Path
) -> None:
    (tmp_path / "shell" / "launch_exit").write_text("1")  # an answer that may come from a job that started
    home.add_job("quick", 'command = "echo hi"\n')
    await home.start_scheduler()
    try:
        run_id = await home.submit("quick")
        run = await home.wait_ended(run_id)
    finally:
        await home.stop_scheduler()
    assert run["status"] == "succeeded" and len(run["attempts"]) == 1
    steps = _steps(await _activity(home, run_id))
    assert steps[:4] == [
        (1, "launch", "sent"),
        (1, "launch", "unconfirmed"),
        (1, "launch", "sent again"),
        (1, "launch", "started"),
    ]


async def test_a_failing_probe_is_one_activity_entry_however_many_polls_fail(
    home: SluiceHome, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    home.add_job("waits", f"command = 'while [ ! -e {release} ]; do sleep 0.05; done'\n")
    await home.start_scheduler()
    try:
        run_id = await home.submit("waits")
        await _until(lambda: _has(home, run_id, ("launch", "started")), "the job to start")
        (tmp_path / "shell" / "say").write_text("Welcome!\n")
        await _until(lambda: _has(home, run_id, ("probe", "failing")), "the failing probe in the activity")
        said = _said(tmp_path)
        await _until(lambda: _said(tmp_path) >= said + 5, "five more failing probes")
        failing = [e for e in await _activity(home, run_id) if e["action"] == "probe"]
        assert len(failing) == 1 and "Welcome!" in failing[0]["detail"], "one entry, not one per poll"
        (tmp_path / "shell" / "say").unlink()
        over = await _until(lambda: _has(home, run_id, ("probe", "failures over")), "the failures to end")
        count = int(over["detail"].split("failed ", 1)[1].split(" times")[0])
        assert count >= 5 and "a probe answered again" in over["detail"] and "Welcome!" in over["detail"]
        release.touch()
        await home.wait_ended(run_id)
    finally:
        await home.stop_scheduler()
    assert [e["outcome"] for e in await _activity(home, run_id) if e["action"] == "probe"] == [
        "failing",
        "failures over",
    ]


async def test_a_cancel_of_a_running_run_lists_the_term_and_that_it_reached_the_node(
    home: SluiceHome,
) -> None:
    home.add_job("long", 'command = "sleep 60"\n')
    await home.start_scheduler()
    try:
        run_id = await home.submit("long")
        await _until(lambda: _has(home, run_id, ("launch", "started")), "the job to start")
        assert (await home.cli("cancel", str(run_id))).code == 0
        run = await home.wait_ended(run_id)
    finally:
        await home.stop_scheduler()
    assert run["status"] == "cancelled"
    signals = [e for e in await _activity(home, run_id) if e["action"] == "signal"]
    assert [e["outcome"] for e in signals][:2] == ["ordered", "delivered"]
    assert "TERM sent (cancelled)" in signals[0]["detail"] and "TERM reached n1" in signals[1]["detail"]


async def test_a_term_for_a_node_that_does_not_answer_is_listed_failed_once_per_error_then_delivered(
    home: SluiceHome, fleet: LocalFleet
) -> None:
    home.add_job("long", 'command = "sleep 60"\n')
    await home.start_scheduler()
    try:
        run_id = await home.submit("long")
        await _until(lambda: _has(home, run_id, ("launch", "started")), "the job to start")
        await fleet.stop_node("n1")
        assert (await home.cli("cancel", str(run_id))).code == 0
        await _until(lambda: _has(home, run_id, ("signal", "failed")), "the TERM that could not be sent")
        await asyncio.sleep(
            1.0
        )  # a window of about ten watcher rounds (0.1 s apart) that fail to send it again
        failed = [e["detail"] for e in await _activity(home, run_id) if e["outcome"] == "failed"]
        assert len(failed) == len(set(failed)) <= 3 and all("TERM not sent to n1" in d for d in failed), (
            failed
        )
        await fleet.start_node("n1")
        await _until(lambda: _has(home, run_id, ("signal", "delivered")), "the TERM to reach the node back")
        run = await home.wait_ended(run_id)
    finally:
        await home.stop_scheduler()
    assert run["status"] == "cancelled"


async def test_a_removed_attempt_folder_is_listed(home: SluiceHome) -> None:
    home.add_job("quick", 'command = "echo hi"\n')
    await home.start_scheduler(replace(FAST, retention=0, cleanup_interval=0.2))
    try:
        run_id = await home.submit("quick")
        await home.wait_ended(run_id)
        removed = await _until(lambda: _has(home, run_id, ("cleanup", "removed")), "the folder's removal")
    finally:
        await home.stop_scheduler()
    assert "removed from n1" in removed["detail"] and f"r{run_id}" in removed["detail"]


async def _has(home: SluiceHome, run_id: int, step: tuple[str, str]) -> dict[str, Any] | None:
    return next((e for e in await _activity(home, run_id) if (e["action"], e["outcome"]) == step), None)


def _said(tmp_path: Path) -> int:
    path = tmp_path / "shell" / "said"
    return len(path.read_text().splitlines()) if path.exists() else 0
