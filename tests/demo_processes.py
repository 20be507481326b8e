"""What the demo's tests read from /proc: which live processes carry a fleet's marker."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from console.demo.reaper import MARKER


def marked_processes() -> dict[int, dict[bytes, bytes]]:
    """Every live process of ours that carries a fleet marker, with its environment (zombies have none)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "environ").read_bytes()
        except OSError:
            continue
        env = dict(item.partition(b"=")[::2] for item in raw.split(b"\0") if item)
        if MARKER.encode() in env:
            found[int(entry.name)] = env
    return found


def long_export_fleet() -> str | None:
    """The marker of the fleet whose long export is running now (its chunk `sleep` carries SLUICE_JOB)."""
    for env in marked_processes().values():
        if env.get(b"SLUICE_JOB") == b"long_export":
            return env[MARKER.encode()].decode()
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
