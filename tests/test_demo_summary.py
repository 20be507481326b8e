"""Quitting the interactive demo (`sluice demo` in a terminal, `q`) prints what ran and where its home went."""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from demo_processes import fleet_alive, fleet_in, supervisors_in

ANSI = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[PX^_][^\x1b]*\x1b\\|.)")


def read_some(fd: int, timeout: float) -> bytes:
    """What the terminal got within timeout; b"" once the demo closed it."""
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return b"-"  # nothing yet, but still open
    try:
        return os.read(fd, 65536) or b""
    except OSError:  # EIO: every holder of the pty's other end is gone
        return b""


def test_quitting_the_interactive_demo_prints_its_runs_and_that_its_home_is_gone(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp"), "TERM": "xterm-256color"}
    process = subprocess.Popen(
        [sys.executable, "-m", "console.main", "demo"],
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    screen = b""
    try:
        deadline = time.monotonic() + 90
        while not supervisors_in(tmp_path):
            assert time.monotonic() < deadline and process.poll() is None, "the demo did not start its jobs"
            screen += read_some(master, 0.1).lstrip(b"-")
        fleet = fleet_in(tmp_path)
        next_q = 0.0
        while (chunk := read_some(master, 0.2)) != b"":
            assert time.monotonic() < deadline + 60, "the demo did not end after q"
            screen += chunk.lstrip(b"-")
            if time.monotonic() > next_q and b"sluice demo ended" not in screen:
                os.write(master, b"q")  # again until the console has taken it: it may not read input yet
                next_q = time.monotonic() + 1.0
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    text = ANSI.sub(b"", screen).decode(errors="replace")
    tail = text[text.rindex("sluice demo ended") :]
    assert re.search(r"sluice demo ended: 23 runs: .*\d+ running", tail), tail
    [removed] = re.findall(r"removed the demo's folder (\S+)", tail)
    assert Path(removed).parent == tmp_path / "tmp"
    assert "keep it next time: sluice demo --home DIR" in tail
    assert list((tmp_path / "tmp").iterdir()) == []
    assert fleet is not None and not fleet_alive(fleet)
