"""Handlers of the backfill commands."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from scheduler.backfills import BackfillPlan
from scheduler.engine import Engine
from scheduler.jobspec import parse_param_args
from scheduler.states import RunStatus

from .output import BackfillDetailOut, BackfillOut, PartitionOut
from .results import report_actions
from .tables import print_table

#: The backfill verbs that stop or re-run work: each takes --reason.
DESTRUCTIVE = frozenset({"backfill-pause", "backfill-cancel", "backfill-retry-failed"})


def add_parsers(sub: Any, common: Callable[..., None], positive: Callable[[str], int],
                integer: Callable[[str], int], reason: Callable[[str], str]) -> None:
    p = sub.add_parser("backfill", help="run a job over a range of partitions, throttled and without repeats")
    common(p, json_output=True)
    p.add_argument("job")
    p.add_argument("--from", dest="range_from", metavar="A")
    p.add_argument("--to", dest="range_to", metavar="B")
    p.add_argument("--values", help="comma-separated values, for list partitions")
    p.add_argument("--max-parallel", type=positive)
    p.add_argument("--order", choices=["oldest-first", "newest-first"], default="oldest-first")
    p.add_argument("--canary", type=positive, help="run the first K partitions, hold the rest until resumed")
    p.add_argument("--rerun-succeeded", action="store_true", help="also re-run partitions that already succeeded")
    p.add_argument("--dry-run", action="store_true", help="print the plan and create nothing")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--queue")
    p.add_argument("--priority", type=integer)
    p = sub.add_parser("backfills", help="list backfills")
    common(p, json_output=True)
    for name, help_text in (("backfill-show", "a backfill's counts and each partition's status"),
                            ("backfill-pause", "pause a backfill"),
                            ("backfill-resume", "resume a backfill (releases a canary hold)"),
                            ("backfill-cancel", "cancel a backfill's queued runs"),
                            ("backfill-retry-failed", "retry a backfill's failed partitions"),
                            ("backfill-set", "change a running backfill's throttle")):
        p = sub.add_parser(name, help=help_text)
        common(p, json_output=True)
        p.add_argument("backfill", type=positive, metavar="ID")
        if name in DESTRUCTIVE:
            p.add_argument("--reason", type=reason, help="why, in a few words: kept in the events")
        if name == "backfill-cancel":
            p.add_argument("--kill", action="store_true", help="also kill its running runs")
        if name == "backfill-set":
            p.add_argument("--max-parallel", type=positive, required=True)


def _plan_lines(plan: BackfillPlan) -> None:
    shown = plan.partitions if len(plan.partitions) <= 12 else plan.partitions[:5] + ["…"] + plan.partitions[-5:]
    print(f"backfill of {plan.job}: {len(plan.partitions)} runs planned, {len(plan.skipped)} partitions skipped")
    print(f"  order {plan.order}  max-parallel {plan.max_parallel or 'unlimited'}  canary {plan.canary or '-'}"
          f"  queue {plan.queue}  priority {plan.priority}")
    if plan.partitions:
        print("  partitions: " + " ".join(shown))
    reasons: dict[str, int] = {}
    for why in plan.skipped.values():
        key = why.split(" (run")[0]
        reasons[key] = reasons.get(key, 0) + 1
    for why, count in sorted(reasons.items()):
        print(f"  skipped {count}: {why}")


async def backfill(engine: Engine, args: argparse.Namespace) -> int:
    # `--values ""` names no value (refused by the plan), it does not mean all of them.
    values = [v.strip() for v in args.values.split(",") if v.strip()] if args.values is not None else None
    plan = await engine.plan_backfill(
        args.job, range_from=args.range_from, range_to=args.range_to, values=values,
        params=parse_param_args(args.param), max_parallel=args.max_parallel, order=args.order, canary=args.canary,
        rerun_succeeded=args.rerun_succeeded, queue=args.queue, priority=args.priority)
    if args.dry_run:
        if args.json:
            print(json.dumps({"backfill_id": None, "planned": len(plan.partitions), "skipped": len(plan.skipped),
                              "run_ids": [], "partitions": plan.partitions, "skipped_partitions": plan.skipped},
                             indent=2))
        else:
            _plan_lines(plan)
            print("dry run: nothing created")
        return 0
    backfill_id, run_ids = await engine.create_backfill(plan, rerun_succeeded=args.rerun_succeeded)
    if args.json:
        print(json.dumps({"backfill_id": backfill_id or None, "planned": len(run_ids), "skipped": len(plan.skipped),
                          "run_ids": run_ids}, indent=2))
    else:
        _plan_lines(plan)
        print(f"backfill {backfill_id} created with {len(run_ids)} runs" if run_ids else
              "nothing to run: every partition is skipped; no backfill created")
    return 0


async def backfills(engine: Engine, args: argparse.Namespace) -> int:
    found = await engine.backfills()
    counts = {b.id: await engine.backfill_counts(b.id) for b in found}
    if args.json:
        print(json.dumps({"backfills": [BackfillOut.of(b, counts[b.id]).model_dump() for b in found]}, indent=2))
        return 0
    rows = [[str(b.id), b.job, b.status, f"{b.range_from}..{b.range_to}" if b.range_from else "listed values",
             str(b.planned),
             str(counts[b.id].get(RunStatus.SUCCEEDED, 0)), str(counts[b.id].get(RunStatus.RUNNING, 0)),
             str(counts[b.id].get(RunStatus.FAILED, 0)), str(b.max_parallel or "-"), b.created_by] for b in found]
    print_table(["ID", "JOB", "STATUS", "RANGE", "RUNS", "OK", "RUNNING", "FAILED", "MAXPAR", "BY"], rows)
    return 0


async def backfill_show(engine: Engine, args: argparse.Namespace) -> int:
    detail = await engine.backfill_detail(args.backfill)
    partitions = [PartitionOut(partition=run.partition or "", run_id=run.id, status=run.status,
                               wait_reason=detail.reasons.get(run.id)) for run in detail.runs]
    if args.json:
        base = BackfillOut.of(detail.backfill, detail.counts).model_dump()
        print(json.dumps(BackfillDetailOut(**base, partitions=partitions).model_dump(), indent=2))
        return 0
    b = detail.backfill
    print(f"backfill {b.id} of {b.job}: {b.status}  max-parallel {b.max_parallel or 'unlimited'}  "
          f"canary {b.canary or '-'}{' (released)' if b.canary_released else ''}  by {b.created_by}")
    print("  " + "  ".join(f"{status} {count}" for status, count in sorted(detail.counts.items())))
    print_table(["PARTITION", "RUN", "STATUS", "WHY NOT RUNNING"],
                [[p.partition, str(p.run_id), p.status, p.wait_reason or ""] for p in partitions])
    return 0


async def backfill_action(engine: Engine, args: argparse.Namespace) -> int:
    backfill_id = args.backfill
    code = 0
    if args.command == "backfill-pause":
        await engine.pause_backfill(backfill_id, args.reason)
        said = "paused; its queued runs wait until it is resumed"
    elif args.command == "backfill-resume":
        await engine.resume_backfill(backfill_id)
        said = "resumed; its queued runs may start (a canary hold is released)"
    elif args.command == "backfill-set":
        await engine.set_backfill_max_parallel(backfill_id, args.max_parallel)
        said = f"max parallel set to {args.max_parallel}"
    elif args.command == "backfill-cancel":
        results = await engine.cancel_backfill(backfill_id, kill=args.kill, reason=args.reason)
        report_actions(results, args.json)  # a run that ended meanwhile is said, but the backfill is cancelled
        if args.json:
            return 0
        done = sum(result.ok for result in results)
        said = (f"cancelled; {_runs(done, 'queued or running')} cancelled (running ones are killed)" if args.kill
                else f"cancelled; {_runs(done, 'queued')} cancelled, running runs left to finish")
    else:
        results = await engine.retry_failed_backfill(backfill_id, args.reason)
        code = report_actions(results, args.json)
        if args.json:
            return code
        queued = sum(result.ok for result in results)
        said = f"{_runs(queued, 'unsuccessful')} queued again" if results else "no failed runs to retry"
    if args.json:
        print(json.dumps({"backfill_id": backfill_id, "ok": True}))
    else:
        print(f"backfill {backfill_id}: {said}")
    return code


def _runs(count: int, what: str) -> str:
    return f"{count} {what} run{'' if count == 1 else 's'}"


HANDLERS = {
    "backfill": backfill, "backfills": backfills, "backfill-show": backfill_show,
    "backfill-pause": backfill_action, "backfill-resume": backfill_action, "backfill-set": backfill_action,
    "backfill-cancel": backfill_action, "backfill-retry-failed": backfill_action,
}
