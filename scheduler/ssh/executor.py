"""Executor over SSH: runs the launch, probe, signal and remove scripts on worker nodes."""

from __future__ import annotations

import re
from importlib import resources
from typing import get_args

from ..config import NodeConfig
from ..executor import (
    AcceptedHostKey,
    Launched,
    LaunchFailed,
    LaunchRequest,
    ProbeError,
    ProbeReport,
    ProbeRequest,
    ProbeState,
    TargetUnavailable,
)
from ..states import NodeState
from .transport import ExecResult, NodeLink, TransportSettings


def _script(name: str) -> str:
    return (resources.files("scheduler.ssh") / name).read_text(encoding="utf-8")


#: Defines read_pid_start and refuses a worker without /proc; the scripts that watch processes start with it.
PROC_PRELUDE = _script("proc.sh")
LAUNCH_SCRIPT = PROC_PRELUDE + _script("launch.sh")
PROBE_SCRIPT = PROC_PRELUDE + _script("probe.sh")
SIGNAL_SCRIPT = PROC_PRELUDE + _script("signal.sh")
REMOVE_SCRIPT = _script("remove.sh")
#: The exit status of PROC_PRELUDE on a worker without /proc.
NO_PROC_EXIT = 78
#: Each state probe.sh prints, as the executor interface names it.
PROBE_STATES: dict[str, ProbeState] = {state: state for state in get_args(ProbeState)}
NO_PROC_REASON = "worker has no /proc: Sluice needs Linux /proc to watch jobs"


class SshExecutor:
    """One NodeLink per configured node; every call is idempotent on the worker side."""

    def __init__(self, nodes: list[NodeConfig], settings: TransportSettings | None = None) -> None:
        self.settings = settings or TransportSettings()
        self.links = {node.name: NodeLink(node, self.settings) for node in nodes}
        #: Nodes that ran the /proc prelude to completion at least once: only these may show up. A connection
        #: alone says nothing about /proc, and dispatching in the moment between a node's first connection and
        #: its first check's answer launched on a worker that cannot watch jobs.
        self._watchable: set[str] = set()

    def add_target(self, config: NodeConfig) -> None:
        self.links.setdefault(config.name, NodeLink(config, self.settings))

    def _link(self, target: str) -> NodeLink:
        link = self.links.get(target)
        if link is None:
            raise TargetUnavailable(target, f"node {target} is not in nodes.toml")
        return link

    async def _watching(self, target: str, script: str, args: list[str], stdin: bytes | None = None,
                        timeout: float = 60.0) -> ExecResult:
        """Run a script that starts with PROC_PRELUDE; a worker without /proc is marked refused."""
        link = self._link(target)
        result = await link.exec(script, args, stdin=stdin, timeout=timeout)
        if result.exit_status == NO_PROC_EXIT:
            self._watchable.discard(target)
            raise TargetUnavailable(target, link.refuse(NO_PROC_REASON), refused=True)
        self._watchable.add(target)
        return result

    async def launch(self, target: str, request: LaunchRequest) -> Launched:
        frame = secret_frame(request.secrets)
        args = [request.remote_dir, str(len(request.script)), str(len(request.secrets)) if request.start else "-"]
        result = await self._watching(target, LAUNCH_SCRIPT, args, stdin=frame + request.script, timeout=40)
        answer = _launch_answer(result.stdout)
        if answer is not None:
            return answer  # whatever else a chatty shell printed around it, the job runs: never launch it again
        detail = result.stderr.decode(errors="replace").strip() or result.stdout.decode(errors="replace").strip()
        if result.exit_status == 0:
            # The script ran to its end without a readable answer: the job may run. Relaunching is safe (the
            # attempt folder answers "existing"); ending the attempt would start the job a second time.
            raise TargetUnavailable(target, f"launch on {target} gave no readable answer: {detail[:500]}",
                                    sent=True)
        if result.exit_status in NOT_STARTED_EXITS:
            raise LaunchFailed(f"launch on {target} failed (exit {result.exit_status}): {detail[:500]}")
        # Any other answer (a slow supervisor that may still start the job, a launcher killed by a signal):
        # the job may run, so the attempt stays starting and is relaunched; the folder answers for it.
        raise TargetUnavailable(target, f"launch on {target} unsure (exit {result.exit_status}): {detail[:500]}",
                                sent=True)

    async def probe(self, target: str, requests: list[ProbeRequest], max_bytes: int) -> list[ProbeReport]:
        if not requests:
            return []
        args = [str(max_bytes)]
        for request in requests:
            args += [request.remote_dir, str(request.stdout_offset), str(request.stderr_offset)]
        result = await self._watching(target, PROBE_SCRIPT, args, timeout=60)
        if result.exit_status != 0:
            said = result.stderr.decode(errors="replace").strip()[:300] or "no message on stderr"
            raise ProbeError(target, f"probe on {target} failed (exit {result.exit_status}): {said}")
        try:
            return parse_probe_output(result.stdout, requests)
        except UnparsableProbe as exc:
            raise ProbeError(target, f"probe on {target}: {exc}") from exc

    async def signal(self, target: str, remote_dirs: list[str], signal: str) -> None:
        if remote_dirs:
            await self._watching(target, SIGNAL_SCRIPT, [signal, *remote_dirs], timeout=30)

    async def remove(self, target: str, remote_dirs: list[str]) -> None:
        if remote_dirs:
            await self._link(target).exec(REMOVE_SCRIPT, remote_dirs, timeout=60)

    async def check(self, target: str) -> None:
        link = self._link(target)
        link.retry_now()
        # The prelude alone: the node is up only if it can also watch jobs.
        await self._watching(target, PROC_PRELUDE, [], timeout=15)
        link.answered()

    def health(self, target: str) -> tuple[str, str | None]:
        link = self.links.get(target)
        if link is None:
            return NodeState.UNKNOWN, "not in nodes.toml"
        if link.state == NodeState.UP and target not in self._watchable:
            return NodeState.UNKNOWN, None  # connected, but not yet seen able to watch jobs: checked before any dispatch
        return link.state, link.last_error

    def accepted_host_keys(self, target: str) -> list[AcceptedHostKey]:
        link = self.links.get(target)
        return list(link.accepted_keys) if link else []

    async def close(self) -> None:
        for link in self.links.values():
            await link.close()


def secret_frame(secrets: dict[str, str]) -> bytes:
    """One line per secret, `NAME VALUE` with every byte of the value as a printf %b octal escape.

    launch.sh reads these lines with the shell's own `read` (which never reads past a line), decodes them with
    the printf builtin and exports them: no command line, no file on the worker ever holds a value."""
    lines = []
    for name, value in sorted(secrets.items()):
        escaped = "".join(f"\\0{byte:03o}" for byte in value.encode("utf-8", "surrogateescape"))
        lines.append(f"{name} {escaped}\n")
    return "".join(lines).encode()


#: The two header lines probe.sh prints; anything else in its output is not a report (STYLE 16: refuse, never guess).
_STATE_LINE = re.compile(rb"A (\d+) (starting|running|exited|missing|vanished) (-|-?\d+) (\d+) (\d+)")
_BYTES_LINE = re.compile(rb"B (\d+) ([oe]) (\d+) (\d+)")
#: The shown part of a line that is not a header.
_SHOWN = 80


class UnparsableProbe(ValueError):
    """The probe's output is not what probe.sh prints (text from a shell startup file, a cut or mixed stream)."""


#: launch.sh's exits that prove the job never started and never will: no folder, no script written, a cut
#: script, no setsid, or abandoned (see launch.sh's `abandon`).
NOT_STARTED_EXITS = frozenset({70, 72, 73, 74, 76, 77})
_LAUNCH_ANSWER = re.compile(rb"^(started|existing) ([0-9]+) ([0-9]+)$", re.MULTILINE)


def _launch_answer(stdout: bytes) -> Launched | None:
    """launch.sh's last `started|existing PID START` line, found among anything a shell startup file printed."""
    matches = list(_LAUNCH_ANSWER.finditer(stdout))
    if not matches:
        return None
    word, pid, start = matches[-1].groups()
    return Launched(pid=int(pid), pid_start=start.decode(), existing=word == b"existing")


def parse_probe_output(output: bytes, requests: list[ProbeRequest]) -> list[ProbeReport]:
    """Parse the probe's framed output: header lines, each B header followed by exactly count raw bytes."""
    states: list[tuple[str, ...] | None] = [None for _ in requests]
    chunks: list[dict[str, bytes]] = [{"o": b"", "e": b""} for _ in requests]
    pos = 0
    while pos < len(output):
        end = output.find(b"\n", pos)
        line = output[pos:] if end < 0 else output[pos:end]
        pos = len(output) if end < 0 else end + 1
        if (match := _STATE_LINE.fullmatch(line)) is not None:
            index = _index(match, line, requests)
            if states[index] is not None:
                raise _unparsable(line, "an attempt reported twice")
            states[index] = tuple(group.decode() for group in match.groups()[1:])
        elif (match := _BYTES_LINE.fullmatch(line)) is not None:
            index = _index(match, line, requests)
            stream, offset, count = match.group(2).decode(), int(match.group(3)), int(match.group(4))
            if states[index] is None:
                raise _unparsable(line, "bytes before the attempt's state")
            expected = requests[index].stdout_offset if stream == "o" else requests[index].stderr_offset
            if offset != expected:
                raise _unparsable(line, f"{stream} bytes at offset {offset}, expected {expected}")
            chunks[index][stream] = output[pos:pos + count]
            if len(chunks[index][stream]) != count:
                raise _unparsable(line, "cut short")
            pos += count
        else:
            raise _unparsable(line, "not a line probe.sh prints")
    reports = []
    for words, chunk in zip(states, chunks, strict=True):
        if words is None:
            raise UnparsableProbe("unparsable probe output: it misses an attempt")
        state, code, out_size, err_size = words
        reports.append(ProbeReport(
            state=PROBE_STATES[state],
            exit_code=int(code) if code != "-" else None,
            stdout_size=int(out_size),
            stderr_size=int(err_size),
            stdout_chunk=chunk["o"],
            stderr_chunk=chunk["e"],
        ))
    return reports


def _index(match: re.Match[bytes], line: bytes, requests: list[ProbeRequest]) -> int:
    index = int(match.group(1))
    if index >= len(requests):
        raise _unparsable(line, f"attempt {index} of {len(requests)}")
    return index


def _unparsable(line: bytes, why: str) -> UnparsableProbe:
    shown = line[:_SHOWN].decode(errors="replace") + ("…" if len(line) > _SHOWN else "")
    return UnparsableProbe(
        f"unparsable probe output ({why}: {shown!r}); if that is text from a shell startup file on the worker "
        "(.bashrc, .profile, a ForceCommand), it must print nothing for non-interactive commands")
