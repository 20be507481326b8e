"""The executor interface: how the dispatch loop starts, watches and stops attempts on some target.

The SSH node executor implements it today; a Slurm executor can implement the same calls later (launch
with sbatch, probe with one squeue/sacct call per cluster, signal with scancel)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from .config import NodeConfig

ProbeState = Literal["starting", "running", "exited", "missing", "vanished"]


class TargetUnavailable(Exception):
    """The target (a node) cannot be reached or refused us; `refused` marks host-key and auth failures.

    `sent` tells whether the command may have reached the target before the link failed: a launch that was
    never sent can go elsewhere at once, one that may have been sent must be re-checked on that target."""

    def __init__(self, target: str, message: str, refused: bool = False, sent: bool = False) -> None:
        super().__init__(message)
        self.target = target
        self.refused = refused
        self.sent = sent


class LaunchFailed(Exception):
    """The target answered, but the attempt could not be started there."""


class ProbeError(Exception):
    """The target answered the probe, but not with a report (a non-zero exit, output that is not the probe's).

    The message names the cause and holds nothing that changes from one poll to the next, so the same fault
    gives the same message every time."""

    def __init__(self, target: str, message: str) -> None:
        super().__init__(message)
        self.target = target


@dataclass(frozen=True)
class AcceptedHostKey:
    """A host key trusted on first use (a node with host_key = "accept-new") and where it was recorded."""

    #: The known_hosts name of the host: `host`, or `[host]:port` off port 22.
    target: str
    algorithm: str
    #: SHA256:... as `ssh-keygen -lf` prints it.
    fingerprint: str
    known_hosts: str
    line: int


@dataclass(frozen=True)
class LaunchRequest:
    remote_dir: str
    #: The job script: environment exports, cd to the working folder, the command.
    script: bytes
    #: Secret environment variables for the job: sent over the channel, never in the script or on disk.
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    #: False when the attempt may only be re-attached, never started (its secrets cannot be read now).
    start: bool = True


@dataclass(frozen=True)
class Launched:
    pid: int
    pid_start: str
    #: True when an earlier launch of the same attempt was found instead of starting a new one.
    existing: bool


@dataclass(frozen=True)
class ProbeRequest:
    remote_dir: str
    stdout_offset: int
    stderr_offset: int


@dataclass(frozen=True)
class ProbeReport:
    state: ProbeState
    exit_code: int | None
    stdout_size: int
    stderr_size: int
    stdout_chunk: bytes
    stderr_chunk: bytes


class Executor(Protocol):
    """Starts attempts detached on a target and reports on them; every call is safe to repeat."""

    async def launch(self, target: str, request: LaunchRequest) -> Launched:
        """Start the attempt detached; if it was started before, report that launch instead."""
        ...

    async def probe(self, target: str, requests: list[ProbeRequest], max_bytes: int) -> list[ProbeReport]:
        """State and new output (from the given offsets, at most max_bytes per stream) of many attempts."""
        ...

    async def signal(self, target: str, remote_dirs: list[str], signal: str) -> None:
        """Send TERM or KILL to each attempt's whole process group."""
        ...

    async def remove(self, target: str, remote_dirs: list[str]) -> None:
        """Delete finished attempt folders."""
        ...

    async def check(self, target: str) -> None:
        """Reach the target and run a trivial command; raises TargetUnavailable."""
        ...

    def health(self, target: str) -> tuple[str, str | None]:
        """(state, last error) of the target as last seen: a connection NodeState (up, down, refused, unknown)."""
        ...

    def accepted_host_keys(self, target: str) -> list[AcceptedHostKey]:
        """Host keys of the target trusted on first use since this executor started, oldest first."""
        ...

    def add_target(self, config: NodeConfig) -> None:
        """Manage one more target: a node gone from the configuration that still has attempts to watch."""
        ...

    async def close(self) -> None:
        """Close connections; never kills jobs."""
        ...
