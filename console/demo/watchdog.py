"""The demo's watchdog child: it outlives the demo however the demo dies, then kills its jobs and removes its folder."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from . import reaper


class Watchdog:
    """A child process holding the read end of a pipe whose write end only the demo holds."""

    def __init__(self, fleet_id: str, folder: Path | None) -> None:
        # Both ends close-on-exec: no job inherits the write end, which would delay the EOF.
        read_end, self._write_end = os.pipe()
        try:
            # A session of its own: the terminal's Ctrl-C or hang-up reaches the demo, not its cleanup.
            self._process = subprocess.Popen(
                [sys.executable, reaper.__file__, fleet_id, *([str(folder)] if folder is not None else [])],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            os.close(read_end)

    def release(self, timeout: float = 30.0) -> None:
        """Tell the watchdog the demo is ending and wait for its cleanup."""
        with contextlib.suppress(OSError):
            os.close(self._write_end)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout)
