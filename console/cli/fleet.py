"""Handlers of the fleet commands: jobs, nodes, drain and undrain, queues, pause and resume, events."""

from __future__ import annotations

import argparse
import sys

from scheduler.engine import Engine, NodeView
from scheduler.errors import UsageError
from scheduler.states import RunStatus

from ..timefmt import shown
from . import node_check
from .output import EventOut, NodeOut, QueueOut
from .results import print_json
from .tables import print_table

#: The per-status run counts `sluice queues` shows, in its column order.
QUEUE_COLUMNS = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.FAILED, RunStatus.SUCCEEDED)


async def jobs(engine: Engine, args: argparse.Namespace) -> int:
    definitions = engine.jobs()
    if args.json:
        print_json({"jobs": [job.model_dump(mode="json") for job in definitions.values()]})
        return 0
    rows = [[job.name, job.queue, str(job.priority), job.partition.kind if job.partition else "",
             job.schedule or "", ",".join(job.after), str(job.retry.max_attempts), job.description[:40]]
            for job in definitions.values()]
    print_table(["JOB", "QUEUE", "PRIO", "PARTITION", "SCHEDULE", "AFTER", "TRIES", "DESCRIPTION"], rows)
    return 0


async def nodes(engine: Engine, args: argparse.Namespace) -> int:
    if args.check:
        return await node_check.check(engine.node_configs(), args)
    if args.names:
        raise UsageError("nodes: NODE names are taken only with --check")
    views = await engine.nodes()
    if args.json:
        print_json({"nodes": [NodeOut.of(view).model_dump() for view in views]})
        return 0
    rows = [[v.config.name, f"{v.config.host}:{v.config.port}", v.status, f"{v.slots_used}/{v.config.slots}",
             ",".join(v.config.labels), _node_problem(v)] for v in views]
    print_table(["NODE", "ADDRESS", "STATE", "SLOTS", "LABELS", "WHY / LAST ERROR"], rows)
    if not engine.scheduler_running():
        print("(no scheduler is running for this home: states are as last seen)", file=sys.stderr)
    return 0


def _node_problem(view: NodeView) -> str:
    state = view.state
    if state is None:
        return ""
    if state.quarantined_at:
        return f"since {shown(state.quarantined_at, 'clock')}: {state.quarantine_reason}"
    return "; ".join(error for error in (state.last_error, state.probe_error) if error)


async def drain(engine: Engine, args: argparse.Namespace) -> int:
    draining = args.command == "drain"
    await engine.set_drained(args.node, draining, getattr(args, "reason", None), getattr(args, "deadline", None))
    print(f"node {args.node} {'drained: no new runs go there' if draining else 'undrained'}")
    return 0


async def queues(engine: Engine, args: argparse.Namespace) -> int:
    found = await engine.queues()
    if args.json:
        print_json({"queues": [QueueOut.of(queue).model_dump() for queue in found]})
        return 0
    rows = [[queue.name, str(queue.priority), str(queue.max_running or "-"), "paused" if queue.paused else "",
             *(str(queue.counts.get(status, 0)) for status in QUEUE_COLUMNS)] for queue in found]
    print_table(["QUEUE", "PRIO", "MAX", "PAUSED", "QUEUED", "RUNNING", "FAILED", "SUCCEEDED"], rows)
    return 0


async def pause(engine: Engine, args: argparse.Namespace) -> int:
    paused = args.command == "pause"
    await engine.set_queue_paused(args.queue, paused, getattr(args, "reason", None))
    print(f"queue {args.queue} {'paused' if paused else 'resumed'}")
    return 0


async def events(engine: Engine, args: argparse.Namespace) -> int:
    found = await engine.events(args.limit, kind=args.kind, actor=args.actor)
    if args.json:
        print_json({"events": [EventOut.of(event).model_dump() for event in found]})
        return 0
    rows = [[str(e.id), shown(e.at), e.kind, str(e.run_id or ""), f"{e.old_status or ''}>{e.new_status or ''}"
             if e.new_status else "", e.actor or "", (e.detail or "")[:60]] for e in found]
    print_table(["ID", "AT", "KIND", "RUN", "CHANGE", "ACTOR", "DETAIL"], rows)
    return 0
