"""Shared by the benchmark scripts: paths, timing, memory, and the figures each script hands to run_all.py."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The scripts run as `python bench/x.py`: make the repo (scheduler, console) and tests/ (sshd.py) importable.
for extra in (REPO, REPO / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

#: Where stores, homes and keys go; big (a 1M-run store is ~1 GB), so never inside the repo.
WORK = Path(os.environ.get("SLUICE_BENCH_DIR", "/tmp/sluice-bench"))


@dataclass(frozen=True)
class Figure:
    """One measured value, with the target it is held to (None: shown for growth, no target)."""

    name: str
    value: float | None
    unit: str
    target: str | None = None
    ok: bool | None = None
    note: str = ""
    #: A stable name run_all.py looks figures up by (ratios, growth).
    key: str = ""

    def shown(self) -> str:
        if self.value is None:
            return "n/a"
        if self.unit in ("ms", "s", "MB", "x", "%", "rows/s", "jobs/s") or self.value != int(self.value):
            return f"{self.value:,.1f} {self.unit}" if self.value < 10_000 else f"{self.value:,.0f} {self.unit}"
        return f"{int(self.value):,} {self.unit}"


class Report:
    """Collects a script's figures, prints each as it comes, and writes them for run_all.py (--figures FILE)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.figures: list[Figure] = []

    def add(self, name: str, value: float | None, unit: str, *, at_most: float | None = None,
            at_least: float | None = None, note: str = "", key: str = "") -> Figure:
        target, ok = None, None
        if at_most is not None:
            target, ok = f"<= {at_most:g} {unit}", value is not None and value <= at_most
        elif at_least is not None:
            target, ok = f">= {at_least:g} {unit}", value is not None and value >= at_least
        figure = Figure(name, value, unit, target, ok, note, key)
        self.figures.append(figure)
        verdict = "" if ok is None else ("  PASS" if ok else "  FAIL")
        print(f"  {name:<58} {figure.shown():>16}  {target or '':<14}{verdict}"
              + (f"  ({note})" if note else ""), flush=True)
        return figure

    def write(self) -> None:
        if self.path:
            Path(self.path).write_text(json.dumps([asdict(figure) for figure in self.figures], indent=1))


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p99 of 500 samples is the 495th smallest)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def timed_ms(samples: list[float], start: float) -> None:
    samples.append((time.perf_counter() - start) * 1000)


def rss_mb(pid: int | str = "self") -> tuple[float, float]:
    """(current RSS, peak RSS) in MB of a process, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


class MachineLoad:
    """CPU busy share (all cores) and processes forked between start() and stop(): read from /proc/stat."""

    def __init__(self) -> None:
        self.busy = self.idle = 0
        self.forks = 0

    @staticmethod
    def _read() -> tuple[int, int, int]:
        busy = idle = forks = 0
        for line in Path("/proc/stat").read_text().splitlines():
            words = line.split()
            if words[0] == "cpu":
                ticks = [int(word) for word in words[1:]]
                idle = ticks[3] + ticks[4]
                busy = sum(ticks[:8]) - idle
            elif words[0] == "processes":
                forks = int(words[1])
        return busy, idle, forks

    def start(self) -> MachineLoad:
        self.busy, self.idle, self.forks = self._read()
        return self

    def stop(self) -> tuple[float, int]:
        """(busy share of all CPUs in %, processes forked)."""
        busy, idle, forks = self._read()
        busy, idle = busy - self.busy, idle - self.idle
        return 100.0 * busy / max(1, busy + idle), forks - self.forks


def machine() -> str:
    """One line naming the machine, for the README and the summary."""
    cpus = os.cpu_count()
    try:
        mem_kb = int(next(line for line in Path("/proc/meminfo").read_text().splitlines()
                          if line.startswith("MemTotal")).split()[1])
        memory = f"{mem_kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        memory = "RAM unknown"
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import sqlite3

    return (f"{cpus} CPUs ({model or platform.machine()}), {memory}, Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


def sluice_cli() -> list[str]:
    """The installed `sluice` entry point beside this interpreter, else `python -m console.main`."""
    entry = Path(sys.executable).parent / "sluice"
    return [str(entry)] if entry.exists() else [sys.executable, "-m", "console.main"]


def child_env() -> dict[str, str]:
    """The environment for timed subprocesses: bytecode cached (in WORK, not the repo) as an installed package is.

    Without it (PYTHONDONTWRITEBYTECODE=1 in some shells) every CLI start recompiles Sluice: ~10-20 ms more."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(WORK / "pycache")
    return env


def run_quiet(args: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(list(args), capture_output=True, check=False, **kwargs)  # type: ignore[call-overload]
