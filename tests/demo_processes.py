"""What the demo's tests read from /proc: which live processes carry a fleet's marker."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from console.demo.reaper import MARKER


def _environ(proc: Path) -> dict[bytes, bytes]:
    raw = (proc / "environ").read_bytes()
    return dict(item.partition(b"=")[::2] for item in raw.split(b"\0") if item)


def marked_processes() -> dict[int, dict[bytes, bytes]]:
    """Every live process of ours that carries a fleet marker, with its environment (zombies have none)."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            env = _environ(entry) if entry.name.isdigit() else {}
        except OSError:
            continue
        if MARKER.encode() in env:
            found[int(entry.name)] = env
    return found


def supervisors_in(folder: Path) -> dict[int, dict[bytes, bytes]]:
    """Live processes whose cwd is in folder (a demo's job supervisors sit in their attempt folders), with env."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            in_folder = entry.name.isdigit() and Path(os.readlink(entry / "cwd")).is_relative_to(
                folder.resolve()
            )
            if in_folder:
                found[int(entry.name)] = _environ(entry)
        except OSError:
            continue
    return found


def fleet_in(folder: Path) -> str | None:
    """The marker of the fleet whose jobs run in folder, if any carries one."""
    for env in supervisors_in(folder).values():
        if MARKER.encode() in env:
            return env[MARKER.encode()].decode()
    return None


def long_export_fleet(folder: Path) -> str | None:
    """The marker of the demo in folder once its long export runs (its chunk `sleep` carries SLUICE_JOB)."""
    fleet = fleet_in(folder)
    for env in marked_processes().values():
        if env[MARKER.encode()].decode() == fleet and env.get(b"SLUICE_JOB") == b"long_export":
            return fleet
    return None


def fleet_alive(fleet_id: str) -> bool:
    """Whether any live process still carries this fleet's marker."""
    return any(env[MARKER.encode()] == fleet_id.encode() for env in marked_processes().values())


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    """Poll condition until it holds; fail with what after timeout."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)
