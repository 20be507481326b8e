"""The worker's /proc: jobs that rename themselves are still cancelled and timed out; no /proc is refused."""

from __future__ import annotations

import asyncio
import inspect
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from cluster import cluster  # noqa: F401  (fixture)
from harness import SluiceHome
from sshd import OpenSSHServer

from console.demo.localnode import LocalFleet
from scheduler.config import load_nodes
from scheduler.executor import ProbeRequest, TargetUnavailable
from scheduler.ssh.executor import SshExecutor

#: What setproctitle and friends produce, plus the ')' and '(' that fool a parser cutting at the first ')'.
#: At most 15 bytes: the kernel keeps that much of a process name.
SHELL_NAME = "celery) (w) x"
PYTHON_NAME = "gunicorn: m) y"
NO_PROC_ERROR = "worker has no /proc: Sluice needs Linux /proc to watch jobs"
#: Jobs rename themselves once running, after Sluice recorded their start: the job's shell starts in its
#: attempt folder, which `cd` leaves in $OLDPWD, and waits there for the pid file the launcher writes.
AFTER_LAUNCH = 'while [ ! -s "$OLDPWD/pid" ]; do sleep 0.05; done; '


async def _until(condition: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    """Poll condition (a function, or a coroutine function) until it returns something true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := await _value(condition())):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
    return value


async def _value(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


async def test_cancel_reaches_a_job_that_renamed_itself(cluster: SluiceHome) -> None:  # noqa: F811
    marker = cluster.root / "renamed"
    # The job's own shell (the process Sluice watches) writes its new name into /proc/self/comm.
    cluster.add_job("renamer", f"""
command = '''{AFTER_LAUNCH}printf '%s' '{SHELL_NAME}' >/proc/$$/comm && cat /proc/$$/comm >{marker}; sleep 60'''
kill_grace = "1s"
""")
    await cluster.start_scheduler()
    run_id = await cluster.submit("renamer")
    await _until(lambda: marker.exists() and marker.read_text().strip(), "the job to rename itself")
    assert marker.read_text().strip() == SHELL_NAME
    assert (await cluster.cli("cancel", str(run_id))).code == 0
    run = await cluster.wait_ended(run_id, timeout=20)
    assert run["status"] == "cancelled"
    assert run["attempts"][0]["reason"] == "cancelled"


async def test_timeout_reaches_a_job_that_renamed_itself(cluster: SluiceHome) -> None:  # noqa: F811
    marker = cluster.root / "renamed"
    # A program that names itself with prctl(PR_SET_NAME), as setproctitle does, after exec-ing over the shell.
    program = ("import ctypes, time; ctypes.CDLL(None).prctl(15, " + repr(PYTHON_NAME.encode()) + ", 0, 0, 0); "
               f"open({str(marker)!r}, 'w').write(open('/proc/self/comm').read()); time.sleep(60)")
    cluster.add_job("renamer", f"""
command = '''{AFTER_LAUNCH}exec {sys.executable} -c "{program}"'''
timeout = "3s"
kill_grace = "0.5s"
""")
    await cluster.start_scheduler()
    run = await cluster.wait_ended(await cluster.submit("renamer"), timeout=30)
    assert marker.read_text().strip() == PYTHON_NAME, "the job was not renamed before its timeout"
    assert run["status"] == "timed_out"
    assert run["attempts"][0]["reason"] == "timeout"


# --- a worker without /proc ------------------------------------------------------------------------------

# A real worker without Linux /proc (BSD, macOS) is not at hand, so the worker's commands run in their own
# mount namespace with an empty tmpfs over /proc: the shell there really finds no /proc, as on such a system.


def _no_proc_wrapper(folder: Path) -> Path:
    """A wrapper that runs its arguments as a command in a mount namespace whose /proc is empty."""
    wrapper = folder / "no-proc"
    wrapper.write_text(
        "#!/bin/sh\n"
        'if [ "$(id -u)" = 0 ]; then opts=--mount; else opts="--user --map-root-user --mount"; fi\n'
        "exec unshare $opts -- /bin/sh -c 'mount -t tmpfs sluice-no-proc /proc && exec \"$@\"' no-proc \"$@\"\n"
    )
    wrapper.chmod(0o755)
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    check = subprocess.run([str(wrapper), "/bin/sh", "-c", "[ ! -e /proc/self ]"], capture_output=True, check=False)
    if check.returncode != 0:
        pytest.skip(f"cannot hide /proc in a mount namespace here: {check.stderr.decode(errors='replace')}")
    return wrapper


@pytest.fixture(params=["asyncssh", "openssh"])
async def bare_node(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """nodes.toml text for one node "bare" whose commands see no /proc, over either SSH server."""
    wrapper = _no_proc_wrapper(tmp_path)
    workdir = str(tmp_path / "workers")
    if request.param == "asyncssh":
        async with LocalFleet(tmp_path / "keys") as fleet:
            await fleet.start_node("bare", wrapper=[str(wrapper)])
            yield fleet.nodes_toml(slots=1, workdir=workdir)
    else:
        make: Callable[..., OpenSSHServer] = request.getfixturevalue("make_openssh_server")
        server = make("bare", [f'ForceCommand {wrapper} /bin/sh -c "$SSH_ORIGINAL_COMMAND"'])
        yield server.node_toml("bare", slots=1, workdir=workdir)


async def test_a_worker_without_proc_is_refused_with_a_clear_error(tmp_path: Path, bare_node: str) -> None:
    home = SluiceHome(tmp_path, bare_node)
    home.add_job("quick", 'command = "echo hi"\n')
    await home.start_scheduler()
    try:
        run_id = await home.submit("quick")

        async def refused_node() -> dict[str, Any] | None:
            [node] = (await home.cli_json("nodes"))["nodes"]
            return node if node["state"] == "refused" else None

        node = await _until(refused_node, "the node to be refused")
        assert NO_PROC_ERROR in node["last_error"]
        run = await home.run_json(run_id)
        # Refused by the check made before the first dispatch: nothing launched, nothing probed as vanished.
        assert run["attempts"] == [] and run["status"] == "queued"
        shown = await home.cli_json("show", str(run_id))
        assert NO_PROC_ERROR in shown["wait_reason"]
        assert home.scheduler is not None
        with pytest.raises(TargetUnavailable) as checked:
            await home.scheduler.executor.check("bare")
        assert checked.value.refused and NO_PROC_ERROR in str(checked.value)
        assert home.scheduler.executor.health("bare")[0] == "refused"
    finally:
        await home.stop_scheduler()


async def test_probing_a_worker_without_proc_refuses_instead_of_reporting_vanished(
    tmp_path: Path, bare_node: str
) -> None:
    nodes_file = tmp_path / "nodes.toml"
    nodes_file.write_text(bare_node)
    # An attempt launched while the worker still had /proc: its pid file is there, its exit file is not.
    folder = tmp_path / "workers" / "r1-a1"
    folder.mkdir(parents=True)
    (folder / "pid").write_text("4242 12345 4243 12344\n")
    executor = SshExecutor(load_nodes(nodes_file))
    try:
        try:
            [report] = await executor.probe("bare", [ProbeRequest(str(folder), 0, 0)], 1024)
        except TargetUnavailable as exc:
            assert exc.refused and NO_PROC_ERROR in str(exc)
            assert executor.health("bare") == ("refused", str(exc))
        else:
            pytest.fail(f"the probe answered {report.state!r} instead of refusing the worker")
    finally:
        await executor.close()
