"""Dispatch: plan which queued runs start where, commit their attempts, and only then hand them to launch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from ..config import NodeConfig
from ..context import HealthCheck
from ..executor import LaunchRequest
from ..jobspec import attempt_dir, job_script
from ..leases import lease_of
from ..models import Attempt, to_iso
from ..planner import plan_dispatch
from ..secrets import SecretMissing, read_secrets
from ..shellwords import CommandSyntaxError
from ..states import EventKind, RunStatus
from ..store import Database
from ..store import queries as q
from .context import ACTOR


async def dispatch(db: Database, nodes: Sequence[NodeConfig], health: HealthCheck, scan_limit: int,
                   home_id: str, now: datetime, default_lease: float
                   ) -> list[tuple[Attempt, LaunchRequest, float | None]]:
    """(attempt, its launch, timeout) of each attempt committed as starting by this pass."""
    plan = await plan_dispatch(db, nodes, health, scan_limit)
    if not plan:
        return []
    at = to_iso(now)
    started: list[tuple[Attempt, LaunchRequest, float | None]] = []
    async with db.write() as conn:
        for run, node in plan:
            current = await q.get_run(conn, run.id)
            if current is None or current.status != RunStatus.QUEUED:
                continue  # cancelled or changed since the plan was read
            number = current.attempt + 1
            checkpoint = await q.latest_checkpoint(conn, run.id, current.checkpoint_floor)
            value = checkpoint.value if checkpoint else None
            try:
                secrets = read_secrets(current.definition)
                script = job_script(replace(current, attempt=number), number, value)
            except (SecretMissing, CommandSyntaxError) as exc:
                # Never a start with an empty secret, and never a pass that fails on one run for good (a run
                # stored by an older Sluice may hold a command this one refuses).
                await q.transition_run(conn, run.id, RunStatus.FAILED, at, kind=EventKind.DISPATCH_REFUSED,
                                       actor=ACTOR, ended_at=at,
                                       detail=f"{exc}; not started (fix it, then `sluice retry {run.id}`)")
                continue
            remote = attempt_dir(node.workdir, home_id, run.id, number)
            lease = lease_of(current.definition, node.lost_after, default_lease)
            attempt_id = await q.insert_attempt(conn, run.id, number, node.name, remote, value, at, lease)
            await q.transition_run(conn, run.id, RunStatus.RUNNING, at, kind=EventKind.DISPATCHED, actor=ACTOR,
                                   detail=f"attempt {number} on {node.name}"
                                   + (" from its latest checkpoint" if value is not None else ""),
                                   on_attempt=number, attempt=number, node=node.name, started_at=at,
                                   exit_code=None)
            attempt = await q.get_attempt(conn, attempt_id)
            assert attempt is not None
            timeout = current.definition.get("timeout")
            started.append((attempt, LaunchRequest(remote, script, secrets), float(timeout) if timeout else None))
    return started
