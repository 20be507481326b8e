"""A network namespace joined to the host by a veth pair: a worker whose link can drop packets or crawl.

Addresses come from 10.213.0.0/16, one /30 per namespace. Nothing meant for them may leave the machine, so
the host gets an `unreachable` route for the /30 (at a high metric) before the veth exists and loses it only
after the veth is gone: while the veth's connected route is there it wins; whenever it is not (the host end
down or deleted) the packets are refused locally, never sent to the default gateway. The namespace itself
has no route but its /30.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

SUBNET_PREFIX = "10.213."
#: Above any route the kernel adds for a connected subnet (metric 0), so it only ever acts as a fallback.
FALLBACK_METRIC = 4242
_serial = itertools.count(1)


class NetnsUnavailable(RuntimeError):
    """This machine cannot create network namespaces (no iproute2, not root, or not permitted)."""


def netns_missing() -> str | None:
    """Why network namespace tests cannot run here, or None when they can."""
    if not sys.platform.startswith("linux"):
        return "network namespaces need Linux"
    if shutil.which("ip") is None or shutil.which("tc") is None:
        return "no `ip`/`tc` binaries: install iproute2"
    if os.geteuid() != 0:
        return "`ip netns` needs root"
    return None


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def _addresses_in_use() -> set[str]:
    """Every 10.213.x.y this host has as an address or in a route, so concurrent namespaces do not collide."""
    text = _run("ip", "-4", "-o", "addr", "show").stdout + _run("ip", "-4", "-o", "route", "show", "table", "all").stdout
    return {word.split("/")[0] for word in text.split() if word.startswith(SUBNET_PREFIX)}


def _free_subnet(start: int) -> int:
    """Index (0..16383) of a /30 in 10.213.0.0/16 that nothing on the host uses yet."""
    used = _addresses_in_use()
    for step in range(1 << 14):
        index = (start + step) % (1 << 14)
        base = f"{SUBNET_PREFIX}{index // 64}."
        if not {base + str(index % 64 * 4 + k) for k in range(4)} & used:
            return index
    raise RuntimeError(f"no free /30 left in {SUBNET_PREFIX}0.0/16")


class VethNamespace:
    """A namespace with one veth to the host: link_down()/link_up() drop packets silently, slow() shapes them."""

    def __init__(self) -> None:
        tag = f"{os.getpid()}x{next(_serial)}"
        self.name = f"sluice-{tag}"
        self.host_if, self.ns_if = f"sl{tag}h", f"sl{tag}n"  # interface names are at most 15 characters
        self.subnet = self.host_address = self.address = ""
        self._made: list[str] = []

    def __enter__(self) -> VethNamespace:
        self.create()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def exec_prefix(self) -> list[str]:
        """argv that runs a command inside the namespace."""
        return ["ip", "netns", "exec", self.name]

    def create(self) -> None:
        """Make the namespace and the veth; undo whatever was made when a step fails."""
        try:
            self._create()
        except BaseException:
            self.close()
            raise

    def _create(self) -> None:
        index = _free_subnet(os.getpid() * 4)
        octets = f"{SUBNET_PREFIX}{index // 64}.", index % 64 * 4
        self.subnet = f"{octets[0]}{octets[1]}/30"
        self.host_address, self.address = f"{octets[0]}{octets[1] + 1}", f"{octets[0]}{octets[1] + 2}"
        _run("ip", "route", "add", "unreachable", self.subnet, "metric", str(FALLBACK_METRIC))
        self._made.append("route")
        added = _run("ip", "netns", "add", self.name, check=False)
        if added.returncode != 0:
            raise NetnsUnavailable(f"ip netns add failed: {added.stderr.strip()}")
        self._made.append("netns")
        _run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if, "netns", self.name)
        self._made.append("veth")
        _run("ip", "addr", "add", f"{self.host_address}/30", "dev", self.host_if)
        _run("ip", "link", "set", self.host_if, "up")
        _run("ip", "-n", self.name, "addr", "add", f"{self.address}/30", "dev", self.ns_if)
        _run("ip", "-n", self.name, "link", "set", "lo", "up")
        self.link_up()

    def link_down(self) -> None:
        """Partition: the namespace's end goes down, so the host end loses carrier and drops what it sends.

        The host end stays up on purpose: its route stays, so packets are dropped on the wire instead of
        refused by the host's fallback route, and nothing answers with a reset.
        """
        _run("ip", "-n", self.name, "link", "set", self.ns_if, "down")
        self._wait_carrier(False)

    def link_up(self) -> None:
        """Heal the partition."""
        _run("ip", "-n", self.name, "link", "set", self.ns_if, "up")
        self._wait_carrier(True)

    def slow(self, rate: str = "1mbit") -> None:
        """Shape both directions of the veth with a token bucket (tc tbf) at rate."""
        shape = ["root", "tbf", "rate", rate, "burst", "32kbit", "latency", "400ms"]
        _run("tc", "qdisc", "replace", "dev", self.host_if, *shape)
        _run("tc", "-n", self.name, "qdisc", "replace", "dev", self.ns_if, *shape)

    def unshape(self) -> None:
        """Back to full speed."""
        _run("tc", "qdisc", "del", "dev", self.host_if, "root", check=False)
        _run("tc", "-n", self.name, "qdisc", "del", "dev", self.ns_if, "root", check=False)

    def shaped_stats(self) -> dict[str, int]:
        """Bytes sent and overlimits of the tbf on the namespace's end (the direction job output takes)."""
        out = _run("tc", "-n", self.name, "-s", "-j", "qdisc", "show", "dev", self.ns_if).stdout
        tbf = next(q for q in json.loads(out) if q.get("kind") == "tbf")
        return {"bytes": int(tbf["bytes"]), "overlimits": int(tbf["overlimits"])}

    def pids(self) -> list[int]:
        """Processes inside the namespace (sshd and whatever it started)."""
        result = _run("ip", "netns", "pids", self.name, check=False)
        return [int(word) for word in result.stdout.split()] if result.returncode == 0 else []

    def close(self) -> None:
        """Kill what runs inside, then remove the veth, the namespace and last the fallback route; idempotent."""
        if "netns" in self._made:
            self._kill_inside()
        if "veth" in self._made:
            # Deleting either end deletes both; the host end is the one we can always name.
            _run("ip", "link", "del", self.host_if, check=False)
            self._made.remove("veth")
        if "netns" in self._made:
            _run("ip", "netns", "del", self.name, check=False)
            self._made.remove("netns")
        if "route" in self._made:
            _run("ip", "route", "del", "unreachable", self.subnet, "metric", str(FALLBACK_METRIC), check=False)
            self._made.remove("route")

    def _kill_inside(self) -> None:
        # A live process keeps a deleted namespace (and its veth) alive, so nothing may be left running.
        deadline = time.monotonic() + 5
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)

    def _wait_carrier(self, wanted: bool) -> None:
        carrier = Path("/sys/class/net") / self.host_if / "carrier"
        deadline = time.monotonic() + 5
        while True:
            try:
                if (carrier.read_text().strip() == "1") == wanted:
                    return
            except OSError:
                pass  # reading carrier fails while the interface is down
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.host_if}: carrier did not become {'up' if wanted else 'down'}")
            time.sleep(0.02)
