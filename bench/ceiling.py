"""The ceiling (issue 6): the same N jobs launched detached with Sluice's own launch wrapper, nothing else.

    python bench/ceiling.py [--sizes 500,2000] [--fleets local,sshd] [--parallel 500]

One persistent asyncssh connection per node, 4 nodes, at most 4 jobs in flight per node. Each job is launched
by SshExecutor.launch itself (`sh -c <launch.sh> sluice <dir> ...`, the job script on stdin, its answer parsed
by Sluice), with NodeLink swapped for a bare single connection; the script is the one Sluice writes
(scheduler.jobspec.job_script). Then its exit file is polled (at once,
then after 5, 10, 20, 40, 50, 50 ... ms) until it appears. No store, no log capture. jobs/s from the first
launch to the last exit seen. Also the median round trip of `true` over an open connection (the cost of one
exec on that fleet, which bounds everything).

GNU parallel (issue 6): `parallel -M --sshlogin 4/ssh -p PORT ... user@127.0.0.1` (x4) on the same sshd nodes,
`echo job {}`, its output collected and checked line by line; then the same with OpenSSH's own ControlMaster
options in the sshlogin instead of -M (the same multiplexing; -M of parallel 20221122 was seen to exit 0 having
lost most outputs here, so a run that loses any output is reported as FAILED, never as a rate). Skipped with a
message if `parallel` or sshd is missing. Its N is --parallel (default 2,000, as issue 6 asks).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncssh
import common
import fleet

from scheduler.config import NodeConfig
from scheduler.executor import LaunchRequest
from scheduler.models import Run
from scheduler.ssh.executor import SshExecutor
from scheduler.ssh.transport import ExecResult

IN_FLIGHT = 4
POLL_STEPS = (0.0, 0.005, 0.01, 0.02, 0.04)
POLL_MAX = 0.05
PARALLEL_PROBE = 40


def job_script(index: int) -> bytes:
    """The job.sh Sluice would write for run `index` of `echo job {i}`."""
    from scheduler.jobspec import job_script as sluice_job_script

    run = Run(id=index, job="echo_job", status="running", queue="default", priority=0, params={"i": str(index)},
              partition=None, definition={"command": "echo job {i}", "params": {"i": "0"}}, idempotency_key=None,
              backfill_id=None, backfill_seq=None, schedule_tick=None, attempt=1, attempts_used=0, node=None,
              exit_code=None, next_attempt_at=None, checkpoint_floor=0, cancel_requested=None, created_at="",
              started_at=None, ended_at=None, updated_at="")
    return sluice_job_script(run, 1, None)


class BareLink:
    """Stands in for NodeLink under SshExecutor: the same command line, over one bare asyncssh connection.

    So SshExecutor.launch itself decides the wrapper's arguments and parses its answer, exactly as in Sluice,
    whatever the launch protocol is today; only the transport (one connection, no pooling, no reconnects) differs."""

    def __init__(self, conn: asyncssh.SSHClientConnection) -> None:
        self.conn = conn

    async def exec(self, script: str, args: list[str], stdin: bytes | None = None,
                   timeout: float = 60.0) -> ExecResult:
        command = "sh -c " + shlex.quote(script) + " sluice " + " ".join(shlex.quote(arg) for arg in args)
        result = await asyncio.wait_for(self.conn.run(command, input=stdin, encoding=None, check=False), timeout)
        return ExecResult(result.exit_status if result.exit_status is not None else 255,
                          bytes(result.stdout or b""), bytes(result.stderr or b""))


async def connect(worker: fleet.Worker) -> asyncssh.SSHClientConnection:
    return await asyncssh.connect(worker.host, port=worker.port, username=worker.user,
                                  client_keys=[str(worker.identity_file)], known_hosts=str(worker.known_hosts))


async def run_job(executor: SshExecutor, node: str, conn: asyncssh.SSHClientConnection, directory: str,
                  index: int) -> None:
    await executor.launch(node, LaunchRequest(directory, job_script(index)))
    exit_file = shlex.quote(f"{directory}/exit")
    step = 0
    while True:
        await asyncio.sleep(POLL_STEPS[step] if step < len(POLL_STEPS) else POLL_MAX)
        step += 1
        polled = await conn.run(f"cat {exit_file} 2>/dev/null", check=False)
        if polled.exit_status == 0 and str(polled.stdout).strip():
            if str(polled.stdout).strip() != "0":
                raise RuntimeError(f"job {index} exited {polled.stdout!r}")
            return


async def exec_round_trip(conn: asyncssh.SSHClientConnection, times: int = 30) -> float:
    samples: list[float] = []
    for _ in range(times):
        start = time.perf_counter()
        await conn.run("true", check=True)
        common.timed_ms(samples, start)
    return common.median(samples)


async def ceiling(workers: list[fleet.Worker], count: int, root: Path) -> tuple[float, str]:
    """(jobs/s, a note: exec round trip, machine CPU busy, processes forked per job)."""
    conns = [await connect(worker) for worker in workers]
    executor = SshExecutor([NodeConfig(name=worker.name, host=worker.host, port=worker.port) for worker in workers])
    executor.links = {worker.name: BareLink(conn) for worker, conn in zip(workers, conns, strict=True)}  # type: ignore[misc]
    try:
        round_trip = await exec_round_trip(conns[0])
        base = f"{root}/ceiling-{count}-{time.time_ns()}"
        queue: asyncio.Queue[int] = asyncio.Queue()
        for index in range(count):
            queue.put_nowait(index)

        async def slot(node: str, conn: asyncssh.SSHClientConnection) -> None:
            while not queue.empty():
                index = queue.get_nowait()
                await run_job(executor, node, conn, f"{base}/r{index}-a1", index)

        load = common.MachineLoad().start()
        start = time.perf_counter()
        await asyncio.gather(*(slot(worker.name, conn) for worker, conn in zip(workers, conns, strict=True)
                               for _ in range(IN_FLIGHT)))
        took = time.perf_counter() - start
        busy, forks = load.stop()
        shutil.rmtree(base, ignore_errors=True)
        return count / took, f"exec round trip (`true`) {round_trip:.1f} ms; CPU {busy:.0f}% busy; " \
                             f"{forks / count:.1f} processes/job"
    finally:
        for conn in conns:
            conn.close()


def gnu_parallel(workers: list[fleet.Worker], count: int, multiplex: str) -> tuple[float | None, str]:
    """(jobs/s or None, note) for `parallel --sshlogin` on the workers; multiplex is "-M" or "ssh-options"."""
    with tempfile.TemporaryDirectory(dir=common.WORK) as tmp:
        logins = []
        for worker in workers:
            ssh = (f"ssh -p {worker.port} -i {worker.identity_file} -o BatchMode=yes -o StrictHostKeyChecking=yes"
                   f" -o UserKnownHostsFile={worker.known_hosts}")
            if multiplex == "ssh-options":
                ssh += f" -o ControlMaster=auto -o ControlPath={tmp}/cm-%p -o ControlPersist=30"
            logins += ["--sshlogin", f"{IN_FLIGHT}/{ssh} {worker.user}@{worker.host}"]
        flags = ["-M"] if multiplex == "-M" else []
        args = ["parallel", "--will-cite", *flags, *logins, "echo job {}", ":::", *map(str, range(count))]
        start = time.perf_counter()
        # Its own session, so a hung run can be ended with all the ssh and perl helpers it started.
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp,
                                   env={**common.child_env(), "TMPDIR": tmp}, start_new_session=True)
        limit = 30 + count / 4
        try:
            stdout, stderr = process.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.communicate(timeout=5)
            return None, f"FAILED: still running after {limit:.0f} s (killed)"
        took = time.perf_counter() - start
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # helpers -M leaves behind after parallel itself exits
    lines = sorted(stdout.decode(errors="replace").splitlines())
    expected = sorted(f"job {index}" for index in range(count))
    if process.returncode != 0 or lines != expected:
        right = len(set(lines) & set(expected))
        return None, (f"FAILED: exit {process.returncode}, {right} of {count} outputs came back in {took:.1f} s"
                      + (f"; {stderr.decode(errors='replace').strip()[-150:]}" if stderr else ""))
    return count / took, f"N={count}, all {count} outputs collected and checked"


def parallel_figures(workers: list[fleet.Worker], count: int, report: common.Report) -> None:
    """GNU parallel with -M (issue 6), and with OpenSSH's ControlMaster set in the sshlogin (same mechanism)."""
    if shutil.which("parallel") is None:
        report.add("GNU parallel: SKIPPED", None, "jobs/s", note="`parallel` is not installed (apt-get install"
                   " parallel); the 10x comparison cannot be made")
        return
    version = subprocess.run(["parallel", "--version"], capture_output=True, text=True, check=False)
    name = version.stdout.splitlines()[0] if version.stdout else "GNU parallel"
    # -M first on a few jobs: here it has been seen to hang, or to exit 0 with outputs lost.
    rate, note = gnu_parallel(workers, PARALLEL_PROBE, "-M")
    if rate is not None:
        rate, note = gnu_parallel(workers, count, "-M")
    else:
        note = f"tried on {PARALLEL_PROBE} jobs first: {note}"
    report.add(f"GNU parallel -M, sshd fleet: N={count:,}", rate, "jobs/s", note=f"{name}; {note}",
               key="parallel.M")
    rate, note = gnu_parallel(workers, count, "ssh-options")
    report.add(f"GNU parallel, ControlMaster via ssh -o, sshd fleet: N={count:,}", rate, "jobs/s",
               note=f"{name}; {note}", key="parallel.ssh")


async def run_fleet(kind: str, sizes: list[int], parallel_count: int, report: common.Report) -> None:
    label = {"local": "(a) asyncssh nodes", "sshd": "(b) OpenSSH sshd"}[kind]
    root = common.WORK / f"ceiling-{kind}"
    async with fleet.fleet(kind, root / "fleet") as workers:
        workdir = root / "worker"
        workdir.mkdir(parents=True, exist_ok=True)
        for count in sizes:
            rate, note = await ceiling(workers, count, workdir)
            report.add(f"ceiling {label}: N={count:,} bare detached launches", rate, "jobs/s", note=note,
                       key=f"ceiling.{kind}.{count}")
        if kind == "sshd" and parallel_count:
            await asyncio.to_thread(parallel_figures, workers, parallel_count, report)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="500,2000")
    parser.add_argument("--fleets", default="local,sshd")
    parser.add_argument("--parallel", type=int, default=2000, help="jobs for GNU parallel (0: skip)")
    parser.add_argument("--figures", help="write figures as JSON here (for run_all.py)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    report = common.Report(args.figures)
    print(f"ceiling: N = {args.sizes}; 4 nodes, {IN_FLIGHT} in flight per node; launch.sh as Sluice runs it",
          flush=True)
    for kind in args.fleets.split(","):
        if kind == "sshd" and (why := fleet.sshd_missing()):
            print(f"  (b) OpenSSH sshd and GNU parallel: SKIPPED: {why}", flush=True)
            continue
        print(f"  fleet: {fleet.KINDS[kind]}", flush=True)
        asyncio.run(run_fleet(kind, sizes, args.parallel, report))
    report.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
