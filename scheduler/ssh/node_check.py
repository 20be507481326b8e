"""`sluice nodes --check`: connect to nodes over their own NodeLinks and judge what each worker needs.

It opens its own connections and changes no state in the store; thresholds are written once here."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Literal

from ..config import NodeConfig
from ..executor import TargetUnavailable
from ..states import NodeState
from .transport import NodeLink, TransportSettings

CHECK_SCRIPT = (resources.files("scheduler.ssh") / "check.sh").read_text(encoding="utf-8")
#: Prints the worker's clock; timed alone, so the round trip it measures is SSH's, not the check script's.
CLOCK_SCRIPT = "date +%s.%N"
#: Each check, in report order: connection first, so a failure there skips what follows.
CHECK_NAMES = ("reachable", "host_key", "login", "sh", "setsid", "proc", "workdir", "disk", "clock", "rtt")
#: A clock further off than this fails (leases and cron are counted on the bastion's clock); past WARN it warns.
CLOCK_SKEW_FAIL = 5.0
CLOCK_SKEW_WARN = 1.0
#: Free space in the workdir under FAIL fails (logs could not be written), under WARN warns.
DISK_FAIL_BYTES = 100 * 1024**2
DISK_WARN_BYTES = 1024**3
#: A round trip slower than this warns (probes and launches would crawl); it never fails.
RTT_WARN = 1.0
#: Clock samples: the one with the shortest round trip gives the skew (as NTP picks its best sample).
CLOCK_SAMPLES = 3
DEFAULT_TIMEOUT = 20.0

Status = Literal["pass", "warn", "fail", "skipped"]


@dataclass(frozen=True)
class Check:
    """One check's verdict: its value (a path, bytes, seconds) and what it means."""

    name: str
    status: Status
    value: str | int | float | None = None
    detail: str = ""

    @property
    def ok(self) -> bool | None:
        """True for pass or warn, False for fail, None when not checked."""
        return None if self.status == "skipped" else self.status != "fail"


@dataclass
class NodeCheck:
    """All checks of one node, in CHECK_NAMES order once finished."""

    name: str
    checks: dict[str, Check] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks.values())

    def add(self, name: str, status: Status, value: str | int | float | None = None, detail: str = "") -> None:
        self.checks[name] = Check(name, status, value, detail)

    def skip_rest(self, why: str) -> None:
        for name in CHECK_NAMES:
            self.checks.setdefault(name, Check(name, "skipped", None, f"not checked: {why}"))
        self.checks = {name: self.checks[name] for name in CHECK_NAMES}


def unknown_names(nodes: list[NodeConfig], names: Iterable[str]) -> list[str]:
    known = {node.name for node in nodes}
    return [name for name in names if name not in known]


async def check_nodes(nodes: list[NodeConfig], timeout: float = DEFAULT_TIMEOUT) -> list[NodeCheck]:
    """Check every node concurrently, each within `timeout` seconds."""
    settings = TransportSettings(connect_timeout=min(10.0, timeout))
    return list(await asyncio.gather(*(_check_within(node, settings, timeout) for node in nodes)))


async def _check_within(node: NodeConfig, settings: TransportSettings, timeout: float) -> NodeCheck:
    result = NodeCheck(node.name)
    link = NodeLink(node, settings)
    try:
        async with asyncio.timeout(timeout):
            await _check(link, node, result)
    except TimeoutError:
        pending = next((name for name in CHECK_NAMES if name not in result.checks), "rtt")
        result.add(pending, "fail", None, f"no answer within {timeout:g}s")
    finally:
        await link.close()
    result.skip_rest("an earlier check failed")
    return result


async def _check(link: NodeLink, node: NodeConfig, result: NodeCheck) -> None:
    started = time.perf_counter()
    try:
        answer = await link.exec(CHECK_SCRIPT, [node.workdir], stdin=b"", timeout=30)
    except TargetUnavailable as exc:
        _connection_failed(link, result, str(exc))
        return
    connected = time.perf_counter() - started
    result.add("reachable", "pass", round(connected, 4), f"connected and answered in {_seconds(connected)}")
    accepted = link.accepted_keys[-1] if link.accepted_keys else None
    result.add("host_key", "pass", None, f"accepted on first use: {accepted.fingerprint} recorded in "
                                         f"{accepted.known_hosts}:{accepted.line}" if accepted else "known")
    facts = _facts(answer.stdout.decode(errors="replace"))
    if answer.exit_status != 0 or "workdir" not in facts:
        why = answer.stderr.decode(errors="replace").strip() or f"the check script exited {answer.exit_status}"
        result.add("login", "fail", None, f"logged in, but the shell did not run the check: {why}")
        return
    result.add("login", "pass", facts.get("user") or None, "logged in")
    _judge_tools(facts, result)
    _judge_workdir(facts, result)
    await _judge_clock(link, result)


def _connection_failed(link: NodeLink, result: NodeCheck, message: str) -> None:
    """Down is unreachable; refused is reachable but the host key or the login was not accepted."""
    reason = link.last_error or message
    if link.state != NodeState.REFUSED:
        result.add("reachable", "fail", None, reason)
        return
    result.add("reachable", "pass", None, "answered")
    if "host key" in reason:
        result.add("host_key", "fail", None, reason)
        return
    result.add("host_key", "pass", None, "known")
    result.add("login", "fail", None, reason)


def _facts(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def _judge_tools(facts: dict[str, str], result: NodeCheck) -> None:
    for name, needed_for in (("sh", "every script"), ("setsid", "launching detached jobs (util-linux)")):
        path = facts.get(name, "")
        result.add(name, "pass" if path else "fail", path or None, "found" if path else f"missing: needed for "
                                                                                         f"{needed_for}")
    if facts.get("proc") == "yes":
        result.add("proc", "pass", "/proc", "readable")
    else:
        result.add("proc", "fail", None, "no /proc: Sluice needs Linux /proc to watch jobs")


def _judge_workdir(facts: dict[str, str], result: NodeCheck) -> None:
    workdir, existing, writable = facts["workdir"], facts.get("existing", ""), facts.get("writable", "")
    if writable == "yes":
        where = "exists" if existing == workdir else f"missing; the first launch creates it under {existing}"
        result.add("workdir", "pass", workdir, f"writable ({where})")
    else:
        result.add("workdir", "fail", workdir, writable.removeprefix("no: ") or "not writable")
    free_kb = facts.get("free_kb", "")
    if not free_kb.isdigit():
        result.add("disk", "fail", None, f"free space unknown (df said {free_kb!r})" if free_kb else
                   "free space unknown: no existing folder to ask df about")
        return
    free = int(free_kb) * 1024
    status: Status = "fail" if free < DISK_FAIL_BYTES else "warn" if free < DISK_WARN_BYTES else "pass"
    limit = {"fail": f"; under {_size(DISK_FAIL_BYTES)} fails", "warn": f"; under {_size(DISK_WARN_BYTES)} warns",
             "pass": ""}[status]
    result.add("disk", status, free, f"{_size(free)} free{limit}")


async def _judge_clock(link: NodeLink, result: NodeCheck) -> None:
    """The worker's clock against the bastion's, from the sample with the shortest round trip."""
    best: tuple[float, float] | None = None
    for _ in range(CLOCK_SAMPLES):
        sent_wall, sent = time.time(), time.perf_counter()
        try:
            answer = await link.exec(CLOCK_SCRIPT, [], stdin=b"", timeout=10)
        except TargetUnavailable as exc:
            result.add("clock", "fail", None, str(exc))
            return
        rtt = time.perf_counter() - sent
        remote = _remote_time(answer.stdout.decode(errors="replace"))
        if remote is None:
            result.add("clock", "fail", None, f"`date +%s` printed {answer.stdout[:40]!r}")
            return
        if best is None or rtt < best[0]:
            best = (rtt, remote - (sent_wall + rtt / 2))
    assert best is not None
    rtt, skew = best
    direction = "ahead of" if skew > 0 else "behind"
    status: Status = "fail" if abs(skew) > CLOCK_SKEW_FAIL else "warn" if abs(skew) > CLOCK_SKEW_WARN else "pass"
    limit = {"fail": f"; past {CLOCK_SKEW_FAIL:g}s fails", "warn": f"; past {CLOCK_SKEW_WARN:g}s warns",
             "pass": ""}[status]
    result.add("clock", status, round(skew, 3), f"{_seconds(abs(skew))} {direction} the bastion{limit}")
    result.add("rtt", "warn" if rtt > RTT_WARN else "pass", round(rtt, 4),
               _seconds(rtt) + (f"; over {RTT_WARN:g}s warns" if rtt > RTT_WARN else ""))


def _remote_time(text: str) -> float | None:
    word = text.strip()
    try:
        return float(word)
    except ValueError:
        # A date without %N (BSD, old busybox) prints the seconds and a literal N: whole seconds will do.
        head = word.split(".")[0]
        return float(head) if head.isdigit() else None


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.1f}s"


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"
