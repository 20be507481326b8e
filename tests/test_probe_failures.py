"""Probe failures (a non-zero exit, output that is not probe.sh's) are an event once per distinct message and
a visible error on the node and its runs, over both SSH servers; garbage is never mis-read as a report."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from harness import SluiceHome
from sshd import OpenSSHServer

from console.cli.output import EventOut, NodeOut
from console.demo.localnode import LocalFleet
from scheduler.executor import ProbeRequest
from scheduler.ssh.executor import parse_probe_output

# --- the parser -------------------------------------------------------------------------------------------

GOOD = b"A 0 running - 3 0\nB 0 o 0 3\nhi\n"
REQUEST = [ProbeRequest("/w/r1-a1", 0, 0)]


def test_a_well_framed_probe_is_read() -> None:
    [report] = parse_probe_output(GOOD, REQUEST)
    assert (report.state, report.exit_code, report.stdout_chunk) == ("running", None, b"hi\n")


@pytest.mark.parametrize("output", [
    b"Welcome!\n" + GOOD,  # a shell startup file that greets
    b"Welcome to host 0\n" + GOOD,
    b"Hi 0 there\n" + GOOD,  # two words that look like a header
    b"Welcome!" + GOOD,  # no newline: glued to the first header
    GOOD + b"Bye!\n",  # text after the report
    b"A -1 running - 3 0\n" + GOOD,  # an index that Python would read from the end
    b"A 0 running - 3 0\n" + GOOD,  # the same attempt twice
    b"A 0 sleeping - 3 0\n",  # no such state
    b"A 0 running - 3\n",  # a field short
    b"B 0 o 0 3\nhi\n",  # bytes for an attempt before its state
    b"A 0 running - 3 0\nB 0 x 0 3\nhi\n",  # no such stream
])
def test_output_that_is_not_the_probes_is_unparsable_not_misread(output: bytes) -> None:
    with pytest.raises(ValueError, match="unparsable probe output"):
        parse_probe_output(output, REQUEST)


def test_the_unparsable_message_names_the_line_and_the_likely_cause() -> None:
    with pytest.raises(ValueError) as raised:
        parse_probe_output(b"Welcome!\n" + GOOD, REQUEST)
    assert "'Welcome!'" in str(raised.value) and "startup file" in str(raised.value)


# --- end to end, over both SSH servers --------------------------------------------------------------------


def _put(path: Path, text: str) -> None:
    """Write a file the wrapper reads at once (rename), so no probe sees half of it as another message."""
    partial = path.with_suffix(".partial")
    partial.write_text(text)
    partial.replace(path)


def _chatty_wrapper(folder: Path) -> Path:
    """A wrapper that, like a chatty shell startup file, prints `say` to stdout before every command; or, when
    `fail` exists, prints it to stderr and exits 3 instead of running the command. `said` counts those runs."""
    folder.mkdir(exist_ok=True)
    wrapper = folder / "chatty"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'dir="{folder}"\n'
        'if [ -f "$dir/say" ]; then cat "$dir/say"; echo x >>"$dir/said"; fi\n'
        'if [ -f "$dir/fail" ]; then cat "$dir/fail" >&2; echo x >>"$dir/said"; exit 3; fi\n'
        'exec "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper


@pytest.fixture(params=["asyncssh", "openssh"])
async def chatty_node(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """nodes.toml text for one node "chatty" whose commands go through _chatty_wrapper, over either server."""
    wrapper = _chatty_wrapper(tmp_path / "shell")
    workdir = str(tmp_path / "workers")
    if request.param == "asyncssh":
        async with LocalFleet(tmp_path / "keys") as fleet:
            await fleet.start_node("chatty", wrapper=[str(wrapper)])
            yield fleet.nodes_toml(slots=1, workdir=workdir)
    else:
        make: Callable[..., OpenSSHServer] = request.getfixturevalue("make_openssh_server")
        server = make("chatty", [f'ForceCommand {wrapper} /bin/sh -c "$SSH_ORIGINAL_COMMAND"'])
        yield server.node_toml("chatty", slots=1, workdir=workdir)


async def _until(condition: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := await _value(condition())):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
    return value


async def _value(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


def _said(tmp_path: Path) -> int:
    path = tmp_path / "shell" / "said"
    return len(path.read_text().splitlines()) if path.exists() else 0


async def _node(home: SluiceHome) -> dict[str, Any]:
    """The node as `sluice nodes --json` shows it (read in process: polled often)."""
    async with await home.engine() as engine:
        [view] = await engine.nodes()
    return NodeOut.of(view).model_dump()


async def _kinds(home: SluiceHome, kind: str) -> list[dict[str, Any]]:
    async with await home.engine() as engine:
        return [EventOut.of(event).model_dump() for event in await engine.events(kind=kind)]


async def _error_shows(home: SluiceHome, tmp_path: Path, needle: str) -> dict[str, Any]:
    """Wait until the node shows an error with needle, then for several more failing probes."""
    node = await _until(lambda: _shown(home, needle), f"the node to show {needle!r}")
    seen = _said(tmp_path)
    await _until(lambda: _said(tmp_path) >= seen + 5, "five more failing probes")
    return node


async def _shown(home: SluiceHome, needle: str) -> dict[str, Any] | None:
    node = await _node(home)
    return node if needle in (node["probe_error"] or "") else None


async def test_probe_failures_are_one_event_per_message_and_visible_on_node_and_run(
        tmp_path: Path, chatty_node: str) -> None:
    release = tmp_path / "release"
    home = SluiceHome(tmp_path, chatty_node)
    home.add_job("waits", f"command = 'while [ ! -e {release} ]; do sleep 0.05; done; echo done'\n")
    await home.start_scheduler()
    try:
        run_id = await home.submit("waits")
        await _until(lambda: _launched(home, run_id), "the job to be launched")

        _put(tmp_path / "shell" / "say", "Welcome!\n")
        node = await _error_shows(home, tmp_path, "Welcome!")
        assert "unparsable probe output" in node["probe_error"] and node["state"] == "up"
        failed = await _kinds(home, "probe_failed")
        assert len(failed) == 1, failed
        assert "Welcome!" in failed[0]["detail"]
        shown = await home.cli_json("show", str(run_id))
        assert shown["status"] == "running" and "Welcome!" in (shown["node_error"] or "")
        assert "Welcome!" in (await home.cli("show", str(run_id))).text
        assert "Welcome!" in (await home.cli("nodes")).text
        [listed] = (await home.cli_json("nodes"))["nodes"]
        assert listed["probe_error"] == node["probe_error"]
        assert len((await home.cli_json("events", "--kind", "probe_failed"))["events"]) == 1

        _put(tmp_path / "shell" / "fail", "chatty: disk quota exceeded\n")  # before the greeting goes: no
        (tmp_path / "shell" / "say").unlink()  # probe in between succeeds and clears the error
        node = await _error_shows(home, tmp_path, "disk quota exceeded")
        assert "exit 3" in node["probe_error"]
        assert len(await _kinds(home, "probe_failed")) == 2, "one event per distinct message, not one per poll"

        (tmp_path / "shell" / "fail").unlink()
        await _until(lambda: _cleared(home), "the probe error to clear")
        assert len(await _kinds(home, "probe_recovered")) == 1
        assert (await home.cli_json("show", str(run_id)))["node_error"] is None
        release.touch()
        run = await home.wait_ended(run_id)
    finally:
        await home.stop_scheduler()
    assert run["status"] == "succeeded"
    assert (await home.cli("logs", str(run_id))).stdout == b"done\n", "no greeting is ever taken for job output"
    assert len(await _kinds(home, "probe_failed")) == 2 and len(await _kinds(home, "probe_recovered")) == 1


async def _launched(home: SluiceHome, run_id: int) -> bool:
    attempts = (await home.run_json(run_id))["attempts"]
    return bool(attempts) and attempts[-1]["status"] == "running"


async def _cleared(home: SluiceHome) -> bool:
    return (await _node(home))["probe_error"] is None


async def test_a_greeting_shell_never_makes_a_launch_look_failed_and_start_the_job_again(
        tmp_path: Path, chatty_node: str) -> None:
    release, ledger = tmp_path / "release", tmp_path / "ledger"
    (tmp_path / "shell" / "say").write_text("Welcome!\n")  # greets before every command, the launch's too
    home = SluiceHome(tmp_path, chatty_node)
    home.add_job("waits", f"command = 'echo start >> {ledger}; while [ ! -e {release} ]; do sleep 0.05; done'\n")
    await home.start_scheduler()
    try:
        run_id = await home.submit("waits")
        await _until(lambda: _launched(home, run_id), "the job to be launched")
        await _error_shows(home, tmp_path, "Welcome!")  # probes refuse the greeting; the launch read past it
        (tmp_path / "shell" / "say").unlink()
        release.touch()
        run = await home.wait_ended(run_id)
    finally:
        await home.stop_scheduler()
    assert run["status"] == "succeeded" and len(run["attempts"]) == 1
    assert ledger.read_text().splitlines() == ["start"], "the job started exactly once"
