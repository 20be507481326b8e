"""`sluice nodes --check [NODE...]`: one line per node, or one JSON document; exit 0 only if every check passed."""

from __future__ import annotations

import argparse

from scheduler.config import NodeConfig
from scheduler.errors import UsageError
from scheduler.ssh.node_check import Check, NodeCheck, check_nodes, unknown_names

from .results import print_json

#: Exit status when any check of any node failed (2 stays bad input).
CHECK_FAILED = 1
#: How each check reads in the one-line report.
LABELS = {"reachable": "reachable", "host_key": "host key", "login": "login", "sh": "sh", "setsid": "setsid",
          "proc": "/proc", "workdir": "workdir", "disk": "free", "clock": "skew", "rtt": "rtt"}


async def check(configs: list[NodeConfig], args: argparse.Namespace) -> int:
    unknown = unknown_names(configs, args.names)
    if unknown:
        known = ", ".join(config.name for config in configs) or "none"
        raise UsageError(f"nodes --check: no node {', '.join(map(repr, unknown))} in nodes.toml (known: {known})")
    chosen = [config for config in configs if not args.names or config.name in args.names]
    results = await check_nodes(chosen, args.timeout)
    if args.json:
        print_json({"ok": all(node.ok for node in results), "nodes": [_document(node) for node in results]})
    else:
        for node in results:
            print(_line(node))
    return 0 if all(node.ok for node in results) else CHECK_FAILED


def _document(node: NodeCheck) -> dict[str, object]:
    return {"name": node.name, "ok": node.ok,
            "checks": {name: {"ok": c.ok, "status": c.status, "value": c.value, "detail": c.detail}
                       for name, c in node.checks.items()}}


def _line(node: NodeCheck) -> str:
    """`n1 ok: reachable ok, host key ok, ... free 12.3 GiB, skew 3ms, rtt 2ms`, or the verdict and why."""
    failed = [c for c in node.checks.values() if c.status == "fail"]
    verdict = "ok" if not failed else _verdict(node)
    words = ", ".join(_word(c) for c in node.checks.values() if c.status != "skipped")
    why = "; ".join(f"{LABELS[c.name]}: {c.detail}" for c in node.checks.values() if c.status in ("fail", "warn"))
    return f"{node.name} {verdict}: {words}" + (f" -- {why}" if why else "")


def _verdict(node: NodeCheck) -> str:
    checks = node.checks
    if checks["reachable"].status == "fail":
        return "DOWN"
    if checks["host_key"].status == "fail" or checks["login"].status == "fail":
        return "REFUSED"
    return "FAILED"


def _word(check: Check) -> str:
    state = {"pass": "ok", "warn": "WARN", "fail": "FAIL", "skipped": "-"}[check.status]
    label = LABELS[check.name]
    if check.name in ("disk", "clock", "rtt") and check.status != "fail" and check.value is not None:
        shown = f"{check.value:+.3f}s" if check.name == "clock" else check.detail.split(";")[0].removesuffix(" free")
        return f"{label} {shown}" + ("" if check.status == "pass" else f" {state}")
    return f"{label} {state}"
