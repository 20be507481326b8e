"""Handlers of the run commands (submit, runs, show, logs, wait, cancel, retry, priority)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from scheduler.engine import Engine
from scheduler.errors import UsageError
from scheduler.jobspec import parse_param_args
from scheduler.run_filter import STATUS_GROUPS, FilterError, RunFilter, parse_run_filter, statuses_of
from scheduler.states import ENDED, RunStatus

from ..timefmt import shown
from .output import RunDetailOut, RunOut
from .results import print_json, report_actions
from .tables import print_table

T = TypeVar("T")


async def submit(engine: Engine, args: argparse.Namespace) -> int:
    if args.params_file:
        if args.param or args.key:
            raise UsageError("--params-file goes without -p and --key")
        params_list = _read_params_file(Path(args.params_file))
        run_ids = await engine.submit_many(args.job, params_list, args.queue, args.priority)
        if args.json:
            print_json({"run_ids": run_ids})
        else:
            print("\n".join(str(run_id) for run_id in run_ids))
        return 0
    run_id, created = await engine.submit(args.job, parse_param_args(args.param), args.queue, args.priority, args.key)
    if args.json:
        print_json({"run_id": run_id, "created": created})
    else:
        print(run_id)
        if not created:
            print(f"sluice: key {args.key!r} was submitted before: run {run_id}", file=sys.stderr)
    return 0


def _read_params_file(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--params-file {path}: cannot read: {exc}") from None
    params_list = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            params = json.loads(line, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{number}: not JSON: {exc.msg}") from None
        except ValueError as exc:
            raise UsageError(f"{path}:{number}: {exc}") from None
        if not isinstance(params, dict):
            raise UsageError(f"{path}:{number}: expected a JSON object of params, got {type(params).__name__}")
        params_list.append(params)
    if not params_list:
        raise UsageError(f"{path}: no lines to submit")
    return params_list


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a param value: give a string or a finite number")


def _filter(args: argparse.Namespace) -> RunFilter:
    """The positional filter words and the flags, as one filter; a field given both ways must agree."""
    try:
        words = parse_run_filter(" ".join(args.filter))
    except FilterError as exc:
        raise UsageError(f"runs: {exc}") from None
    flag_statuses = [status for word in args.status for status in _flag_statuses(word)]
    return replace(words, statuses=tuple(dict.fromkeys([*words.statuses, *flag_statuses])),
                   job=_agreed("job", args.job, words.job), queue=_agreed("queue", args.queue, words.queue),
                   node=_agreed("node", args.node, words.node),
                   backfill_id=_agreed("backfill", args.backfill, words.backfill_id))


def _flag_statuses(word: str) -> tuple[str, ...]:
    try:
        return statuses_of(word)
    except FilterError:
        raise UsageError(f"--status {word!r}: expected one of {', '.join(s.value for s in RunStatus)} "
                         f"or a group ({', '.join(STATUS_GROUPS)})") from None


def _agreed(option: str, flag: T | None, word: T | None) -> T | None:
    if flag is not None and word is not None and flag != word:
        raise UsageError(f"runs: --{option} {flag} and {option}={word} disagree: give one")
    return flag if flag is not None else word


async def runs(engine: Engine, args: argparse.Namespace) -> int:
    found = await engine.runs(_filter(args), args.limit)
    reasons = await engine.wait_reasons(found)
    if args.json:
        print_json({"runs": [RunOut.of(run, reasons.get(run.id)).model_dump() for run in found]})
        return 0
    rows = [[str(run.id), run.job, run.status, run.partition or "", run.queue, str(run.attempt), run.node or "",
             "" if run.exit_code is None else str(run.exit_code), shown(run.created_at), reasons.get(run.id, "")]
            for run in found]
    print_table(["ID", "JOB", "STATUS", "PARTITION", "QUEUE", "TRY", "NODE", "EXIT", "CREATED", "WHY WAITING"], rows)
    return 0


async def show(engine: Engine, args: argparse.Namespace) -> int:
    detail = await engine.run_detail(args.run)
    reason = (await engine.wait_reasons([detail.run])).get(detail.run.id)
    out = RunDetailOut.of_detail(detail, reason)
    if args.json:
        print_json(out.model_dump())
        return 0
    run = detail.run
    print(f"run {run.id}  {run.job}  {run.status.upper()}" + (f"  ({reason})" if reason else ""))
    print(f"  queue {run.queue}  priority {run.priority}  partition {run.partition or '-'}  params {run.params}")
    print(f"  created {shown(run.created_at)}  started {shown(run.started_at)}  ended {shown(run.ended_at)}")
    if detail.node_error:
        print(f"  NODE ERROR: {detail.node_error}")
    if detail.attempts:
        print("attempts:")
        for a in out.attempts:
            progress = f"  progress {a.progress['done']:g}/{a.progress['total']:g}" if a.progress else ""
            print(f"  #{a.number} {a.status} on {a.node}  exit {a.exit_code if a.exit_code is not None else '-'}"
                  f"  reason {a.reason or '-'}  {shown(a.started_at)} -> {shown(a.ended_at) if a.ended_at else '…'}{progress}"
                  + (f"\n     {a.error}" if a.error else "") + (f"\n     LOG: {a.log_error}" if a.log_error else ""))
    if detail.checkpoints:
        print("checkpoints:")
        for checkpoint in detail.checkpoints:
            print(f"  {shown(checkpoint.at)}  attempt {checkpoint.attempt}  {checkpoint.value}")
    print("events:")
    for event in detail.events:
        change = f"{event.old_status or ''} -> {event.new_status}" if event.new_status else ""
        print(f"  {shown(event.at)}  {event.kind:<18} {change:<24} {event.actor or ''}  {event.detail or ''}")
    return 0


async def logs(engine: Engine, args: argparse.Namespace) -> int:
    run = await engine.run(args.run)
    if run.attempt == 0:
        raise UsageError(f"run {run.id} has not started yet ({run.status}): it has no output")
    attempt = args.attempt or run.attempt
    if attempt < 1 or attempt > max(run.attempt, 0):
        raise UsageError(f"run {run.id} has no attempt {attempt} (it has {run.attempt})")
    stream = "stderr" if args.stderr else "stdout"
    out = sys.stdout.buffer
    offset = 0
    while True:
        chunk = engine.read_log(run.id, attempt, stream, offset, 1 << 20)
        while chunk:
            out.write(chunk)
            offset += len(chunk)
            chunk = engine.read_log(run.id, attempt, stream, offset, 1 << 20)
        out.flush()
        if not args.follow:
            return 0
        current = await engine.attempt(run.id, attempt)
        if current is not None and current.ended_at is not None and offset >= engine.log_size(run.id, attempt, stream):
            return 0
        await asyncio.sleep(0.25)


async def wait(engine: Engine, args: argparse.Namespace) -> int:
    for run_id in args.runs:
        await engine.run(run_id)
    deadline = time.monotonic() + args.timeout if args.timeout is not None else None
    while True:
        found = {run_id: await engine.run(run_id) for run_id in args.runs}
        if all(run.status in ENDED for run in found.values()):
            ok = all(run.status == RunStatus.SUCCEEDED for run in found.values())
            if args.json:
                print_json({"runs": [RunOut.of(run).model_dump() for run in found.values()], "all_succeeded": ok})
            else:
                for run in found.values():
                    print(f"{run.id} {run.status}")
            return 0 if ok else 1
        if deadline is not None and time.monotonic() >= deadline:
            if args.json:
                print_json({"runs": [RunOut.of(run).model_dump() for run in found.values()], "timed_out": True})
            else:
                pending = [str(run.id) for run in found.values() if run.status not in ENDED]
                print(f"sluice: timed out waiting for {', '.join(pending)}", file=sys.stderr)
            return 3
        await asyncio.sleep(0.2)


async def _require_runs(engine: Engine, run_ids: list[int]) -> None:
    """Every named run must exist, or nothing is done (exit 2)."""
    for run_id in run_ids:
        await engine.run(run_id)


async def cancel(engine: Engine, args: argparse.Namespace) -> int:
    await _require_runs(engine, args.runs)
    return report_actions(await engine.cancel(args.runs, args.reason), args.json)


async def retry(engine: Engine, args: argparse.Namespace) -> int:
    await _require_runs(engine, args.runs)
    return report_actions(await engine.retry(args.runs, from_scratch=args.from_scratch, reason=args.reason), args.json)


async def priority(engine: Engine, args: argparse.Namespace) -> int:
    await engine.set_priority(args.run, args.priority)
    print(f"run {args.run} priority {args.priority}")
    return 0
