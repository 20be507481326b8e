"""Named crash points: a test hook that kills the scheduler at one exact place between two durable steps.

Set SLUICE_CRASH_AT=NAME or NAME:COUNT in the scheduler's environment and the COUNT-th time (default the first)
the process passes `crash_point(NAME)` it dies at once with `os._exit(137)`: like SIGKILL, no cleanup, no
`finally`, no flush, an open transaction left uncommitted. One line goes straight to fd 2 first, so a test can
tell the crash point from any other death. The variable is read once, at the first call; without it a crash
point costs one comparison. A malformed value exits with status 2 at the first call (a test's mistake, never
silently ignored). The points, in the order a run meets them:

- `dispatch_committed`: attempts were committed as starting and none of their launches was sent yet.
- `launch_answered`: a launch reached the worker and answered; the job runs there, its start is not committed.
- `log_appended`: probe bytes are appended and fsynced to the log store; the offsets are not committed yet.
- `exit_read`: a probe reported an attempt's exit code; the pass that ends the attempt is not committed yet.

Production never sets the variable; tests/test_crash_points.py does."""

from __future__ import annotations

import os
import re

ENV = "SLUICE_CRASH_AT"
#: The crash points, each placed at exactly one call site.
NAMES = frozenset({"dispatch_committed", "launch_answered", "log_appended", "exit_read"})
#: The exit status of a crashed process, the one a shell reports for SIGKILL.
CRASH_STATUS = 137

_SPEC = re.compile(r"(?P<name>[a-z_]+)(?::(?P<count>[1-9][0-9]*))?")
_read = False
_armed: tuple[str, int] | None = None
_passes = 0


def _arm() -> tuple[str, int] | None:
    value = os.environ.get(ENV, "")
    if not value:
        return None
    match = _SPEC.fullmatch(value)
    if match is None or match["name"] not in NAMES:
        os.write(2, f"sluice: {ENV}={value!r} is not NAME[:COUNT] with NAME one of {sorted(NAMES)}\n".encode())
        os._exit(2)
    return match["name"], int(match["count"] or 1)


def crash_point(name: str) -> None:
    """Die here, at once, if SLUICE_CRASH_AT names this point and this is the pass it counts to."""
    global _read, _armed, _passes
    if not _read:
        _read, _armed = True, _arm()
    if _armed is None or _armed[0] != name:
        return
    _passes += 1
    if _passes == _armed[1]:
        os.write(2, f"sluice: crash point {name} reached ({ENV}), exiting {CRASH_STATUS}\n".encode())
        os._exit(CRASH_STATUS)
