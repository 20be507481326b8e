"""Every SQL statement Sluice runs, as named functions. Parameters are always bound, never formatted in.

Write functions expect to run inside a transaction opened by Database.write(); the caller decides its size,
so a scheduler pass commits all its transitions at once (group commit)."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from ..errors import InvalidTransition
from ..models import Attempt, Backfill, Checkpoint, Event, NodeRecord, Run
from ..run_filter import RunFilter
from ..run_order import RunOrder, SortKey, keyset_key
from ..states import (
    ACTIVE,
    ATTEMPT_ACTIVE,
    ATTEMPT_TRANSITIONS,
    BACKFILL_OPEN,
    BACKFILL_TRANSITIONS,
    TRANSITIONS,
    AttemptStatus,
    BackfillStatus,
    EndReason,
    EventKind,
    KillReason,
    NodeState,
    RunStatus,
    Status,
    sources_of,
)

# Columns an update may set besides status (which only a guarded transition sets); fixed lists, so names never
# come from input.
RUN_FIELDS = frozenset(
    {"attempt", "attempts_used", "node", "exit_code", "next_attempt_at", "checkpoint_floor", "cancel_requested",
     "started_at", "ended_at", "priority"}
)
ATTEMPT_FIELDS = frozenset(
    {"reason", "exit_code", "error", "pid", "pid_start", "ended_at", "stdout_offset", "stderr_offset",
     "parsed_offset", "kill_signal_at", "kill_reason", "progress_done", "progress_total", "progress_message",
     "progress_at", "log_error", "log_stalled_at", "cleaned", "lost_after"}
)
BACKFILL_FIELDS = frozenset({"max_parallel", "canary_released"})


@dataclass(frozen=True)
class NewRun:
    job: str
    queue: str
    priority: int
    params: dict[str, Any]
    partition: str | None
    definition: dict[str, Any]
    idempotency_key: str | None = None
    backfill_id: int | None = None
    backfill_seq: int | None = None
    schedule_tick: str | None = None
    #: The submitted event's detail when neither a backfill nor a tick says where the run came from.
    note: str | None = None


def _marks(values: Collection[object]) -> str:
    """One bound-parameter mark per value, for `IN (...)`: values are bound, never formatted in."""
    return ",".join("?" * len(values))


def _check_fields(fields: dict[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = set(fields) - allowed
    if unknown:
        hint = f" (a status changes only through transition_{what})" if "status" in unknown else ""
        raise ValueError(f"not {'an' if what[0] in 'aeiou' else 'a'} {what} field: {sorted(unknown)}{hint}")


async def _guarded_update(conn: aiosqlite.Connection, table: str, what: str, row_id: int, target: Status,
                          transitions: Mapping[tuple[Status, Status], str], fields: dict[str, Any]) -> None:
    """UPDATE table SET status = target WHERE id = row_id AND status IN (the sources `transitions` allows), or
    InvalidTransition naming why no row matched; `table` and the field names come from this module, never input."""
    sources = sources_of(transitions, target)
    assignments = "".join(f", {name} = ?" for name in fields)
    cursor = await conn.execute(
        f"UPDATE {table} SET status = ?{assignments} WHERE id = ? AND status IN ({_marks(sources)})",
        (target, *fields.values(), row_id, *sources),
    )
    if cursor.rowcount == 1:
        return
    row = await _one(conn, f"SELECT status FROM {table} WHERE id = ?", (row_id,))
    if row is None:
        raise InvalidTransition(f"{what} {row_id} does not exist")
    raise InvalidTransition(f"{what} {row_id} is {row[0]}; it cannot become {target}")


async def _one(conn: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    async with conn.execute(sql, params) as cursor:
        return await cursor.fetchone()


async def _all(conn: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    async with conn.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


# --- meta -------------------------------------------------------------------------------------------------

async def get_meta(conn: aiosqlite.Connection, key: str) -> str | None:
    row = await _one(conn, "SELECT value FROM meta WHERE key = ?", (key,))
    return row[0] if row else None


async def set_meta_default(conn: aiosqlite.Connection, key: str, value: str) -> str:
    await conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
    stored = await get_meta(conn, key)
    assert stored is not None
    return stored


# --- events -----------------------------------------------------------------------------------------------

async def insert_event(
    conn: aiosqlite.Connection, at: str, kind: EventKind, *, run_id: int | None = None, attempt: int | None = None,
    old_status: str | None = None, new_status: str | None = None, actor: str | None = None,
    detail: str | None = None, reason: str | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO events (at, run_id, attempt, kind, old_status, new_status, actor, detail, reason)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (at, run_id, attempt, kind, old_status, new_status, actor, detail, reason),
    )


async def events_for_run(conn: aiosqlite.Connection, run_id: int, limit: int = 1000) -> list[Event]:
    rows = await _all(conn, "SELECT * FROM events WHERE run_id = ? ORDER BY id LIMIT ?", (run_id, limit))
    return [Event.from_row(row) for row in rows]


async def events_after(conn: aiosqlite.Connection, after_id: int, limit: int) -> list[Event]:
    """Events committed after `after_id`, oldest first: what a follower has not printed yet."""
    rows = await _all(conn, "SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit))
    return [Event.from_row(row) for row in rows]


async def activity_events(conn: aiosqlite.Connection, run_id: int, kinds: Sequence[str],
                          attempt: int | None = None) -> list[Event]:
    """A run's events of the given kinds that name an attempt (of one attempt, or all), oldest first."""
    sql = f"SELECT * FROM events WHERE run_id = ? AND attempt IS NOT NULL AND kind IN ({_marks(kinds)})"
    params: list[Any] = [run_id, *kinds]
    if attempt is not None:
        sql += " AND attempt = ?"
        params.append(attempt)
    return [Event.from_row(row) for row in await _all(conn, sql + " ORDER BY id", params)]


async def recent_events(
    conn: aiosqlite.Connection, limit: int, before_id: int | None = None, kind: str | None = None,
    actor: str | None = None, words: Sequence[str] = (),
) -> list[Event]:
    """Newest first; each of `words` must appear (case-insensitively) in the kind, run id, actor or detail."""
    sql = "SELECT * FROM events WHERE 1 = 1"
    params: list[Any] = []
    for word in words:
        # instr, not LIKE: a typed % or _ is text, not a wildcard.
        sql += (" AND instr(lower(kind || ' ' || coalesce(run_id, '') || ' ' || coalesce(actor, '') || ' '"
                " || coalesce(detail, '')), ?) > 0")
        params.append(word.lower())
    if before_id is not None:
        sql += " AND id < ?"
        params.append(before_id)
    if kind:
        sql += " AND kind = ?"
        params.append(kind)
    if actor:
        sql += " AND actor = ?"
        params.append(actor)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    return [Event.from_row(row) for row in await _all(conn, sql, params)]


# --- queues -----------------------------------------------------------------------------------------------

async def ensure_queue(conn: aiosqlite.Connection, name: str) -> None:
    await conn.execute("INSERT OR IGNORE INTO queues (name) VALUES (?)", (name,))


async def configure_queue(conn: aiosqlite.Connection, name: str, priority: int, max_running: int | None) -> None:
    await conn.execute(
        "INSERT INTO queues (name, priority, max_running) VALUES (?, ?, ?)"
        " ON CONFLICT(name) DO UPDATE SET priority = excluded.priority, max_running = excluded.max_running",
        (name, priority, max_running),
    )


async def set_queue_paused(conn: aiosqlite.Connection, name: str, paused: bool) -> bool:
    cursor = await conn.execute("UPDATE queues SET paused = ? WHERE name = ?", (int(paused), name))
    return cursor.rowcount == 1


async def queues(conn: aiosqlite.Connection) -> list[Any]:
    return await _all(conn, "SELECT * FROM queues ORDER BY priority DESC, name")


async def queue_status_counts(conn: aiosqlite.Connection) -> list[Any]:
    return await _all(conn, "SELECT queue, status, count(*) AS n FROM runs GROUP BY queue, status")


# --- nodes ------------------------------------------------------------------------------------------------

async def ensure_nodes(conn: aiosqlite.Connection, names: Iterable[str], at: str) -> None:
    await conn.executemany(
        "INSERT OR IGNORE INTO nodes (name, updated_at) VALUES (?, ?)", [(name, at) for name in names]
    )


async def node_states(conn: aiosqlite.Connection) -> list[NodeRecord]:
    return [NodeRecord.from_row(row) for row in await _all(conn, "SELECT * FROM nodes ORDER BY name")]


async def node_state(conn: aiosqlite.Connection, name: str) -> NodeRecord | None:
    row = await _one(conn, "SELECT * FROM nodes WHERE name = ?", (name,))
    return NodeRecord.from_row(row) if row is not None else None


async def set_node_drained(
    conn: aiosqlite.Connection, name: str, drained: bool, reason: str | None, deadline: str | None, at: str
) -> None:
    await conn.execute(
        "INSERT INTO nodes (name, drained, drain_reason, drain_deadline, updated_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT(name) DO UPDATE SET drained = excluded.drained, drain_reason = excluded.drain_reason,"
        " drain_deadline = excluded.drain_deadline, updated_at = excluded.updated_at",
        (name, int(drained), reason, deadline, at),
    )


async def set_node_health(
    conn: aiosqlite.Connection, name: str, state: str, error: str | None, at: str
) -> None:
    """Record a node's connection state; down_since keeps the first moment of an outage."""
    await conn.execute(
        "INSERT INTO nodes (name, state, last_error, last_seen_at, down_since, updated_at)"
        " VALUES (?1, ?2, ?3, CASE WHEN ?2 = ?5 THEN ?4 END, CASE WHEN ?2 != ?5 THEN ?4 END, ?4)"
        " ON CONFLICT(name) DO UPDATE SET state = ?2, last_error = ?3,"
        " last_seen_at = CASE WHEN ?2 = ?5 THEN ?4 ELSE last_seen_at END,"
        " down_since = CASE WHEN ?2 = ?5 THEN NULL ELSE coalesce(down_since, ?4) END,"
        " updated_at = ?4",
        (name, state, error, at, NodeState.UP),
    )


async def probe_errors(conn: aiosqlite.Connection) -> dict[str, str]:
    """node -> why its last probe failed, for the nodes whose last probe failed."""
    rows = await _all(conn, "SELECT name, probe_error FROM nodes WHERE probe_error IS NOT NULL")
    return {row["name"]: row["probe_error"] for row in rows}


async def set_probe_error(conn: aiosqlite.Connection, name: str, error: str | None, at: str) -> None:
    """Record why a node's probe failed (None: it succeeds again)."""
    await conn.execute(
        "INSERT INTO nodes (name, probe_error, updated_at) VALUES (?1, ?2, ?3)"
        " ON CONFLICT(name) DO UPDATE SET probe_error = ?2, updated_at = ?3",
        (name, error, at),
    )


async def set_node_down_since(conn: aiosqlite.Connection, name: str, at: str) -> None:
    """The moment the scheduler began counting a node's outage (its attempts' leases run from it)."""
    await conn.execute("UPDATE nodes SET down_since = ? WHERE name = ?", (at, name))


async def add_node_infra_failure(conn: aiosqlite.Connection, name: str) -> tuple[int, bool]:
    """Count one more infrastructure failure in a row on the node: (failures now, already quarantined)."""
    row = await _one(conn, "UPDATE nodes SET infra_failures = infra_failures + 1 WHERE name = ?"
                           " RETURNING infra_failures, quarantined_at IS NOT NULL", (name,))
    return (int(row[0]), bool(row[1])) if row else (0, False)


async def reset_node_infra_failures(conn: aiosqlite.Connection, name: str) -> None:
    """An attempt on the node ended for the job's own reasons: its infrastructure works."""
    await conn.execute("UPDATE nodes SET infra_failures = 0 WHERE name = ? AND infra_failures != 0", (name,))


async def quarantine_node(conn: aiosqlite.Connection, name: str, reason: str, at: str) -> None:
    await conn.execute("UPDATE nodes SET quarantined_at = ?, quarantine_reason = ?, updated_at = ? WHERE name = ?",
                       (at, reason, at, name))


async def lift_quarantine(conn: aiosqlite.Connection, name: str, at: str) -> bool:
    """End a node's quarantine and its count of failures; False when it was not quarantined."""
    cursor = await conn.execute(
        "UPDATE nodes SET quarantined_at = NULL, quarantine_reason = NULL, infra_failures = 0, updated_at = ?"
        " WHERE name = ? AND quarantined_at IS NOT NULL", (at, name))
    return cursor.rowcount == 1


async def quarantined_nodes(conn: aiosqlite.Connection) -> list[str]:
    return [row[0] for row in await _all(conn, "SELECT name FROM nodes WHERE quarantined_at IS NOT NULL")]


# --- runs -------------------------------------------------------------------------------------------------

async def find_run_by_key(conn: aiosqlite.Connection, key: str) -> int | None:
    row = await _one(conn, "SELECT id FROM runs WHERE idempotency_key = ?", (key,))
    return int(row[0]) if row else None


async def insert_runs(conn: aiosqlite.Connection, new_runs: Sequence[NewRun], at: str, actor: str) -> list[int]:
    """Insert queued runs and their `submitted` events in one batch; returns ids in order."""
    snapshots: dict[int, str] = {}  # a backfill's runs share one definition: serialise it once

    def snapshot(definition: dict[str, Any]) -> str:
        key = id(definition)
        if key not in snapshots:
            snapshots[key] = json.dumps(definition, sort_keys=True)
        return snapshots[key]

    newest = await _one(conn, "SELECT coalesce(max(id), 0) FROM runs")
    await conn.executemany(
        "INSERT INTO runs (job, status, queue, priority, params, partition_key, definition, idempotency_key,"
        " backfill_id, backfill_seq, schedule_tick, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(new.job, RunStatus.QUEUED, new.queue, new.priority, json.dumps(new.params, sort_keys=True), new.partition,
          snapshot(new.definition), new.idempotency_key, new.backfill_id, new.backfill_seq, new.schedule_tick, at, at)
         for new in new_runs],
    )
    # We hold the write lock, so the rows just inserted are exactly those above the previous maximum, in order.
    ids = [row[0] for row in await _all(conn, "SELECT id FROM runs WHERE id > ? ORDER BY id", (newest[0],))]
    assert len(ids) == len(new_runs)
    await conn.executemany(
        "INSERT INTO events (at, run_id, kind, new_status, actor, detail) VALUES (?, ?, ?, ?, ?, ?)",
        [(at, run_id, EventKind.SUBMITTED, RunStatus.QUEUED, actor, _submit_detail(new))
         for run_id, new in zip(ids, new_runs, strict=True)],
    )
    return ids


def _submit_detail(new: NewRun) -> str | None:
    if new.backfill_id is not None:
        return f"backfill {new.backfill_id}"
    if new.schedule_tick is not None:
        return f"schedule tick {new.schedule_tick}"
    return new.note


async def get_run(conn: aiosqlite.Connection, run_id: int) -> Run | None:
    row = await _one(conn, "SELECT * FROM runs WHERE id = ?", (run_id,))
    return Run.from_row(row) if row else None


async def last_run_of_jobs(conn: aiosqlite.Connection, jobs: Sequence[str]) -> dict[str, Run]:
    """job -> its newest run, for the jobs that have one: one indexed lookup per job, whatever the history."""
    found = {}
    for job in jobs:
        row = await _one(conn, "SELECT * FROM runs WHERE job = ? ORDER BY id DESC LIMIT 1", (job,))
        if row is not None:
            found[job] = Run.from_row(row)
    return found


async def get_runs(conn: aiosqlite.Connection, run_ids: Sequence[int]) -> list[Run]:
    if not run_ids:
        return []
    rows = await _all(conn, f"SELECT * FROM runs WHERE id IN ({_marks(run_ids)}) ORDER BY id", list(run_ids))
    return [Run.from_row(row) for row in rows]


async def transition_run(
    conn: aiosqlite.Connection, run_id: int, target: RunStatus, at: str, *, kind: EventKind, actor: str,
    detail: str | None = None, reason: str | None = None, on_attempt: int | None = None,
    expect: Iterable[RunStatus] | None = None, **fields: Any,
) -> RunStatus:
    """Guarded status change plus its event, in the caller's transaction. Returns the old status."""
    _check_fields(fields, RUN_FIELDS, "run")
    row = await _one(conn, "SELECT status FROM runs WHERE id = ?", (run_id,))
    if row is None:
        raise InvalidTransition(f"run {run_id} does not exist")
    old = RunStatus(row[0])
    allowed = set(expect) if expect is not None else None
    if (old, target) not in TRANSITIONS or (allowed is not None and old not in allowed):
        raise InvalidTransition(f"run {run_id} is {old.value}; it cannot become {target.value}")
    assignments = "".join(f", {name} = ?" for name in fields)
    cursor = await conn.execute(
        f"UPDATE runs SET status = ?, updated_at = ?{assignments} WHERE id = ? AND status = ?",
        (target.value, at, *fields.values(), run_id, old.value),
    )
    if cursor.rowcount != 1:
        raise InvalidTransition(f"run {run_id} changed under us; it cannot become {target.value}")
    await insert_event(conn, at, kind, run_id=run_id, attempt=on_attempt, old_status=old.value,
                       new_status=target.value, actor=actor, detail=detail, reason=reason)
    return old


async def update_run_fields(conn: aiosqlite.Connection, run_id: int, at: str, **fields: Any) -> None:
    _check_fields(fields, RUN_FIELDS, "run")
    assignments = ", ".join(f"{name} = ?" for name in fields)
    await conn.execute(f"UPDATE runs SET {assignments}, updated_at = ? WHERE id = ?", (*fields.values(), at, run_id))


def _filter_sql(run_filter: RunFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = ["1 = 1"]
    params: list[Any] = []
    if run_filter.statuses:
        clauses.append(f"status IN ({_marks(run_filter.statuses)})")
        params.extend(run_filter.statuses)
    # ifnull(node, ''): the expression runs_node_id indexes (0007), so a node filter reads one index range.
    for column, value in (("job", run_filter.job), ("queue", run_filter.queue), ("ifnull(node, '')", run_filter.node),
                          ("backfill_id", run_filter.backfill_id)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if run_filter.text:
        clauses.append("(job LIKE ? ESCAPE '\\' OR partition_key LIKE ? ESCAPE '\\' OR params LIKE ? ESCAPE '\\')")
        pattern = "%" + run_filter.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        params.extend([pattern, pattern, pattern])
    return " AND ".join(clauses), params


async def list_runs(
    conn: aiosqlite.Connection, run_filter: RunFilter, limit: int, before_id: int | None = None,
    after_id: int | None = None,
) -> list[Run]:
    """Newest first, keyset-paged by id so a page costs the same at any depth of history."""
    where, params = _filter_sql(run_filter)
    if before_id is not None:
        where += " AND id < ?"
        params.append(before_id)
    if after_id is not None:
        where += " AND id > ?"
        params.append(after_id)
        rows = await _all(conn, f"SELECT * FROM runs WHERE {where} ORDER BY id ASC LIMIT ?", [*params, limit])
        rows.reverse()
    else:
        rows = await _all(conn, f"SELECT * FROM runs WHERE {where} ORDER BY id DESC LIMIT ?", [*params, limit])
    return [Run.from_row(row) for row in rows]


#: The column expression each indexed order sorts by; each is the first column of an index ending in id.
_ORDER_COLUMNS = {SortKey.JOB: "job", SortKey.STATUS: "status", SortKey.NODE: "ifnull(node, '')"}


def ordered_runs_sql(
    run_filter: RunFilter, limit: int, order: RunOrder, after: Run | None = None, backwards: bool = False,
    inclusive: bool = False,
) -> tuple[str, list[Any]]:
    """The SELECT of one page in `order` (an indexed one) from the run `after` (or an end), and its parameters.

    Forward reads the page that follows `after` in display order, backwards the page that precedes it (rows come
    back in reverse display order); the tie-break on id runs in the same direction so one index serves both."""
    where, params = _filter_sql(run_filter)
    columns = ([_ORDER_COLUMNS[order.key]] if order.key != SortKey.ID else []) + ["id"]
    descending = order.descending != backwards
    if after is not None:
        key = keyset_key(after, order)
        compare = ("<" if descending else ">") + ("=" if inclusive else "")
        where += f" AND ({', '.join(columns)}) {compare} ({_marks(key)})"
        params.extend(key)
    direction = "DESC" if descending else "ASC"
    ordering = ", ".join(f"{column} {direction}" for column in columns)
    return f"SELECT * FROM runs WHERE {where} ORDER BY {ordering} LIMIT ?", [*params, limit]


async def list_runs_ordered(
    conn: aiosqlite.Connection, run_filter: RunFilter, limit: int, order: RunOrder, after: Run | None = None,
    backwards: bool = False, inclusive: bool = False,
) -> list[Run]:
    """One keyset page in `order`, in display order: the same cost at any depth of history (see ordered_runs_sql)."""
    if not order.indexed:
        raise ValueError(f"runs cannot be paged by {order.key}: it has no index")
    rows = await _all(conn, *ordered_runs_sql(run_filter, limit, order, after, backwards, inclusive))
    if backwards:
        rows.reverse()
    return [Run.from_row(row) for row in rows]


#: Newest (False) or oldest (True) first, the runs in one status: a range of the runs_status_id index.
RUNS_IN_STATUS = {False: "SELECT * FROM runs WHERE status = ? ORDER BY id DESC LIMIT ?",
                  True: "SELECT * FROM runs WHERE status = ? ORDER BY id ASC LIMIT ?"}


async def runs_in_status(conn: aiosqlite.Connection, status: str, limit: int, oldest_first: bool = False) -> list[Run]:
    """The newest (or oldest) `limit` runs in one status: the same cost with a million runs as with ten."""
    rows = await _all(conn, RUNS_IN_STATUS[oldest_first], (status, limit))
    return [Run.from_row(row) for row in rows]


async def count_runs(conn: aiosqlite.Connection, run_filter: RunFilter, cap: int | None = None) -> int:
    where, params = _filter_sql(run_filter)
    if cap is None:
        row = await _one(conn, f"SELECT count(*) FROM runs WHERE {where}", params)
    else:
        row = await _one(conn, f"SELECT count(*) FROM (SELECT 1 FROM runs WHERE {where} LIMIT ?)", [*params, cap])
    return int(row[0])


async def status_counts(conn: aiosqlite.Connection) -> dict[str, int]:
    rows = await _all(conn, "SELECT status, count(*) FROM runs GROUP BY status")
    return {row[0]: row[1] for row in rows}


#: The newest run of upstream job `upstream.value` for the outer run's partition: its status decides `after`.
_UPSTREAM_STATUS = (
    "(SELECT latest.status FROM runs latest WHERE latest.job = upstream.value"
    " AND latest.partition_key IS runs.partition_key ORDER BY latest.id DESC LIMIT 1)"
)
#: True when every job in the run's `after` has a succeeded newest run of its partition (binds: succeeded).
_UPSTREAM_DONE = (
    "NOT EXISTS (SELECT 1 FROM json_each(runs.definition, '$.after') upstream"
    f" WHERE {_UPSTREAM_STATUS} IS NOT ?)"
)
#: True when some node of a JSON list of label lists has all the run's labels (binds: that list).
_PLACEABLE = (
    "EXISTS (SELECT 1 FROM json_each(?) node WHERE NOT EXISTS ("
    "SELECT 1 FROM json_each(runs.definition, '$.labels') wanted"
    " WHERE wanted.value NOT IN (SELECT has.value FROM json_each(node.value) has)))"
)


async def queued_candidates(
    conn: aiosqlite.Connection, queue: str, limit: int, *, held_backfills: Sequence[int] = (),
    canary_backfills: Sequence[int] = (), node_labels: Sequence[Sequence[str]] | None = None,
    after: tuple[int, int] | None = None,
) -> list[Run]:
    """Queued runs of a queue that may start now, in dispatch order (priority, then FIFO), keyset-paged from `after`.

    Left out in SQL, so that any number of them never hides a runnable run behind them: runs whose upstream
    partition has not succeeded, runs of held backfills (paused, at max-parallel), unstarted runs of canary-held
    ones, and, when `node_labels` is given (the labels of each node with a free slot), runs no such node fits."""
    sql = f"SELECT * FROM runs WHERE status = ? AND queue = ? AND {_UPSTREAM_DONE}"
    params: list[Any] = [RunStatus.QUEUED.value, queue, RunStatus.SUCCEEDED.value]
    if node_labels is not None:
        sql += f" AND {_PLACEABLE}"
        params.append(json.dumps([list(labels) for labels in node_labels]))
    if held_backfills:
        sql += f" AND (backfill_id IS NULL OR backfill_id NOT IN ({_marks(held_backfills)}))"
        params.extend(held_backfills)
    if canary_backfills:
        sql += (f" AND NOT (attempt = 0 AND backfill_id IS NOT NULL"
                f" AND backfill_id IN ({_marks(canary_backfills)}))")
        params.extend(canary_backfills)
    if after is not None:
        sql += " AND (priority < ? OR (priority = ? AND id > ?))"
        params.extend([after[0], after[0], after[1]])
    rows = await _all(conn, sql + " ORDER BY priority DESC, id LIMIT ?", [*params, limit])
    return [Run.from_row(row) for row in rows]


async def upstream_statuses(conn: aiosqlite.Connection, run_ids: Sequence[int]) -> list[tuple[int, str, str | None]]:
    """(run id, upstream job, status of its newest run of the run's partition or None) per `after` entry, in order.

    One query per 500 runs, however many of them wait."""
    found: list[tuple[int, str, str | None]] = []
    for start in range(0, len(run_ids), 500):
        chunk = list(run_ids[start:start + 500])
        rows = await _all(
            conn,
            f"SELECT runs.id, upstream.value, {_UPSTREAM_STATUS} FROM runs, json_each(runs.definition, '$.after')"
            f" upstream WHERE runs.id IN ({_marks(chunk)}) ORDER BY runs.id, upstream.key",
            chunk,
        )
        found.extend((row[0], row[1], row[2]) for row in rows)
    return found


async def due_retries(conn: aiosqlite.Connection, now: str, limit: int = 1000) -> list[Run]:
    rows = await _all(
        conn, "SELECT * FROM runs WHERE status = ? AND next_attempt_at <= ? ORDER BY id LIMIT ?",
        (RunStatus.RETRY_WAIT, now, limit),
    )
    return [Run.from_row(row) for row in rows]


async def running_counts_by_queue(conn: aiosqlite.Connection) -> dict[str, int]:
    """Runs holding a slot, per queue (for its max_running)."""
    rows = await _all(conn, f"SELECT queue, count(*) FROM runs WHERE status IN ({_marks(ACTIVE)}) GROUP BY queue",
                      sorted(ACTIVE))
    return {row[0]: row[1] for row in rows}


async def running_counts_by_backfill(conn: aiosqlite.Connection) -> dict[int, int]:
    """Runs holding a slot, per backfill (for its max-parallel)."""
    rows = await _all(
        conn,
        f"SELECT backfill_id, count(*) FROM runs WHERE status IN ({_marks(ACTIVE)}) AND backfill_id IS NOT NULL"
        " GROUP BY backfill_id",
        sorted(ACTIVE),
    )
    return {row[0]: row[1] for row in rows}


async def runs_with_cancel_requested(conn: aiosqlite.Connection) -> list[Run]:
    rows = await _all(conn, "SELECT * FROM runs WHERE cancel_requested IS NOT NULL AND status = ?",
                      (RunStatus.RUNNING,))
    return [Run.from_row(row) for row in rows]


async def latest_runs_for_partitions(
    conn: aiosqlite.Connection, job: str, partitions: Sequence[str]
) -> dict[str, Run]:
    """The newest run of each (job, partition); chunks keep the bound-parameter count small."""
    latest: dict[str, Run] = {}
    for start in range(0, len(partitions), 500):
        chunk = list(partitions[start:start + 500])
        rows = await _all(
            conn,
            f"SELECT r.* FROM runs r JOIN (SELECT partition_key, max(id) AS id FROM runs WHERE job = ?"
            f" AND partition_key IN ({_marks(chunk)}) GROUP BY partition_key) newest ON r.id = newest.id",
            [job, *chunk],
        )
        for row in rows:
            run = Run.from_row(row)
            assert run.partition is not None
            latest[run.partition] = run
    return latest


# --- attempts ---------------------------------------------------------------------------------------------

async def insert_attempt(
    conn: aiosqlite.Connection, run_id: int, number: int, node: str, remote_dir: str, checkpoint_in: str | None,
    at: str, lost_after: float | None = None,
) -> int:
    cursor = await conn.execute(
        "INSERT INTO attempts (run_id, number, node, status, remote_dir, checkpoint_in, started_at, lost_after)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (run_id, number, node, AttemptStatus.STARTING, remote_dir, checkpoint_in, at, lost_after),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def transition_attempt(conn: aiosqlite.Connection, attempt_id: int, target: AttemptStatus,
                             **fields: Any) -> None:
    """Guarded status change of an attempt (ATTEMPT_TRANSITIONS), with other fields, in the caller's transaction."""
    _check_fields(fields, ATTEMPT_FIELDS, "attempt")
    await _guarded_update(conn, "attempts", "attempt", attempt_id, target, ATTEMPT_TRANSITIONS, fields)


async def update_attempt(conn: aiosqlite.Connection, attempt_id: int, **fields: Any) -> None:
    """Fields other than the status (offsets, pid, kill, progress, cleanup...)."""
    _check_fields(fields, ATTEMPT_FIELDS, "attempt")
    assignments = ", ".join(f"{name} = ?" for name in fields)
    await conn.execute(f"UPDATE attempts SET {assignments} WHERE id = ?", (*fields.values(), attempt_id))


async def get_attempt(conn: aiosqlite.Connection, attempt_id: int) -> Attempt | None:
    row = await _one(conn, "SELECT * FROM attempts WHERE id = ?", (attempt_id,))
    return Attempt.from_row(row) if row else None


async def attempts_for_run(conn: aiosqlite.Connection, run_id: int) -> list[Attempt]:
    rows = await _all(conn, "SELECT * FROM attempts WHERE run_id = ? ORDER BY number", (run_id,))
    return [Attempt.from_row(row) for row in rows]


async def attempt_of_run(conn: aiosqlite.Connection, run_id: int, number: int) -> Attempt | None:
    row = await _one(conn, "SELECT * FROM attempts WHERE run_id = ? AND number = ?", (run_id, number))
    return Attempt.from_row(row) if row else None


async def active_attempts(conn: aiosqlite.Connection) -> list[Attempt]:
    rows = await _all(conn, f"SELECT * FROM attempts WHERE status IN ({_marks(ATTEMPT_ACTIVE)}) ORDER BY id",
                      sorted(ATTEMPT_ACTIVE))
    return [Attempt.from_row(row) for row in rows]


async def unfenced_lost_attempts(conn: aiosqlite.Connection, nodes: Sequence[str]) -> list[Attempt]:
    """Attempts given up when their node's lease ran out, on these nodes, not yet killed there."""
    if not nodes:
        return []
    rows = await _all(conn, "SELECT * FROM attempts WHERE status = ? AND reason = ? AND cleaned = 0"
                            " AND coalesce(kill_reason, '') != ?"
                            f" AND node IN ({_marks(nodes)}) ORDER BY id LIMIT 500",
                      (AttemptStatus.LOST, EndReason.NODE_LOST, KillReason.FENCED, *nodes))
    return [Attempt.from_row(row) for row in rows]


async def attempts_to_clean(conn: aiosqlite.Connection, ended_before: str, nodes: Sequence[str],
                            limit: int = 200) -> list[Attempt]:
    """Ended attempts on these nodes whose worker folders are due for removal (nodes that do not answer are
    left out by the caller, so their backlog never starves the others)."""
    if not nodes:
        return []
    # Lost attempts given up with their node are cleaned only once fenced: their job may still run there.
    held = sorted(ATTEMPT_ACTIVE | {AttemptStatus.LOST})
    rows = await _all(
        conn,
        "SELECT * FROM attempts WHERE cleaned = 0 AND ended_at < ?"
        f" AND node IN ({_marks(nodes)})"
        f" AND (status NOT IN ({_marks(held)})"
        " OR (status = ? AND (kill_reason = ? OR reason != ?)))"
        " ORDER BY id LIMIT ?",
        (ended_before, *nodes, *held, AttemptStatus.LOST, KillReason.FENCED, EndReason.NODE_LOST, limit),
    )
    return [Attempt.from_row(row) for row in rows]


async def last_attempts(conn: aiosqlite.Connection, run_ids: Sequence[int]) -> dict[int, Attempt]:
    if not run_ids:
        return {}
    rows = await _all(
        conn,
        "SELECT a.* FROM attempts a JOIN runs r ON r.id = a.run_id AND a.number = r.attempt"
        f" WHERE r.id IN ({_marks(run_ids)})",
        list(run_ids),
    )
    return {row["run_id"]: Attempt.from_row(row) for row in rows}


# --- checkpoints ------------------------------------------------------------------------------------------

async def insert_checkpoint(
    conn: aiosqlite.Connection, run_id: int, attempt: int, at: str, value: str, offset: int
) -> None:
    await conn.execute(
        "INSERT INTO checkpoints (run_id, attempt, at, value, offset) VALUES (?, ?, ?, ?, ?)",
        (run_id, attempt, at, value, offset),
    )


async def attempt_has_checkpoint(conn: aiosqlite.Connection, run_id: int, attempt: int) -> bool:
    row = await _one(conn, "SELECT EXISTS (SELECT 1 FROM checkpoints WHERE run_id = ? AND attempt = ?)",
                     (run_id, attempt))
    return bool(row[0])


async def max_checkpoint_id(conn: aiosqlite.Connection, run_id: int) -> int:
    row = await _one(conn, "SELECT coalesce(max(id), 0) FROM checkpoints WHERE run_id = ?", (run_id,))
    return int(row[0])


async def checkpoints_for_run(conn: aiosqlite.Connection, run_id: int) -> list[Checkpoint]:
    rows = await _all(conn, "SELECT * FROM checkpoints WHERE run_id = ? ORDER BY id", (run_id,))
    return [Checkpoint.from_row(row) for row in rows]


async def latest_checkpoint(conn: aiosqlite.Connection, run_id: int, floor: int = 0) -> Checkpoint | None:
    """The newest checkpoint above the run's floor (a from-scratch retry raises the floor)."""
    row = await _one(
        conn, "SELECT * FROM checkpoints WHERE run_id = ? AND id > ? ORDER BY id DESC LIMIT 1", (run_id, floor)
    )
    return Checkpoint.from_row(row) if row else None


# --- backfills --------------------------------------------------------------------------------------------

async def insert_backfill(conn: aiosqlite.Connection, values: dict[str, Any]) -> int:
    columns = ("job", "status", "max_parallel", "order_by", "canary", "range_from", "range_to", "params", "queue",
               "priority", "planned", "skipped", "created_by", "created_at", "updated_at")
    cursor = await conn.execute(
        f"INSERT INTO backfills ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [values[name] for name in columns],
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def get_backfill(conn: aiosqlite.Connection, backfill_id: int) -> Backfill | None:
    row = await _one(conn, "SELECT * FROM backfills WHERE id = ?", (backfill_id,))
    return Backfill.from_row(row) if row else None


async def list_backfills(conn: aiosqlite.Connection, limit: int = 200) -> list[Backfill]:
    rows = await _all(conn, "SELECT * FROM backfills ORDER BY id DESC LIMIT ?", (limit,))
    return [Backfill.from_row(row) for row in rows]


async def active_backfills(conn: aiosqlite.Connection) -> list[Backfill]:
    rows = await _all(conn, f"SELECT * FROM backfills WHERE status IN ({_marks(BACKFILL_OPEN)})",
                      sorted(BACKFILL_OPEN))
    return [Backfill.from_row(row) for row in rows]


async def transition_backfill(conn: aiosqlite.Connection, backfill_id: int, target: BackfillStatus, at: str,
                              **fields: Any) -> None:
    """Guarded status change of a backfill (BACKFILL_TRANSITIONS), with other fields, in the caller's transaction."""
    _check_fields(fields, BACKFILL_FIELDS, "backfill")
    await _guarded_update(conn, "backfills", "backfill", backfill_id, target, BACKFILL_TRANSITIONS,
                          {**fields, "updated_at": at})


async def update_backfill(conn: aiosqlite.Connection, backfill_id: int, at: str, **fields: Any) -> None:
    """Fields other than the status (max-parallel, canary release); always marks the backfill updated."""
    _check_fields(fields, BACKFILL_FIELDS, "backfill")
    assignments = "".join(f"{name} = ?, " for name in fields)
    await conn.execute(
        f"UPDATE backfills SET {assignments}updated_at = ? WHERE id = ?", (*fields.values(), at, backfill_id)
    )


async def backfill_status_counts(conn: aiosqlite.Connection, backfill_id: int) -> dict[str, int]:
    rows = await _all(conn, "SELECT status, count(*) FROM runs WHERE backfill_id = ? GROUP BY status", (backfill_id,))
    return {row[0]: row[1] for row in rows}


async def backfill_runs(conn: aiosqlite.Connection, backfill_id: int) -> list[Run]:
    rows = await _all(conn, "SELECT * FROM runs WHERE backfill_id = ? ORDER BY backfill_seq", (backfill_id,))
    return [Run.from_row(row) for row in rows]


async def backfill_started_count(conn: aiosqlite.Connection, backfill_id: int) -> int:
    """Runs of the backfill that have had at least one attempt (for the canary hold)."""
    row = await _one(conn, "SELECT count(*) FROM runs WHERE backfill_id = ? AND attempt > 0", (backfill_id,))
    return int(row[0])


# --- schedules --------------------------------------------------------------------------------------------

async def schedule_last_tick(conn: aiosqlite.Connection, job: str) -> str | None:
    row = await _one(conn, "SELECT last_tick FROM schedules WHERE job = ?", (job,))
    return row[0] if row else None


async def set_schedule_last_tick(conn: aiosqlite.Connection, job: str, tick: str) -> None:
    await conn.execute(
        "INSERT INTO schedules (job, last_tick) VALUES (?, ?) ON CONFLICT(job) DO UPDATE SET last_tick = excluded.last_tick",
        (job, tick),
    )


async def used_slots_by_node(conn: aiosqlite.Connection) -> dict[str, int]:
    rows = await _all(conn, f"SELECT node, count(*) FROM attempts WHERE status IN ({_marks(ATTEMPT_ACTIVE)})"
                            " GROUP BY node", sorted(ATTEMPT_ACTIVE))
    return {row[0]: row[1] for row in rows}


async def backfill_started_counts(conn: aiosqlite.Connection, backfill_ids: Sequence[int]) -> dict[int, int]:
    """backfill_started_count for several backfills in one query."""
    counts = dict.fromkeys(backfill_ids, 0)
    if backfill_ids:
        rows = await _all(
            conn,
            "SELECT backfill_id, count(*) FROM runs WHERE backfill_id IN (SELECT value FROM json_each(?))"
            " AND attempt > 0 GROUP BY backfill_id",
            (json.dumps(list(backfill_ids)),),
        )
        counts.update((row[0], row[1]) for row in rows)
    return counts


async def next_retry_at(conn: aiosqlite.Connection) -> str | None:
    """When the earliest run waiting out its backoff is due, or None when none waits."""
    row = await _one(conn, "SELECT min(next_attempt_at) FROM runs WHERE status = ?", (RunStatus.RETRY_WAIT,))
    return row[0] if row else None


async def save_node_configs(conn: aiosqlite.Connection, configs: dict[str, str], at: str) -> None:
    """Record each configured node's settings (JSON) as this scheduler start sees them."""
    await conn.executemany(
        "INSERT INTO nodes (name, config, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT(name) DO UPDATE SET config = excluded.config",
        [(name, config, at) for name, config in configs.items()],
    )


async def node_configs(conn: aiosqlite.Connection, names: Sequence[str]) -> dict[str, str | None]:
    """The settings last recorded for these nodes (None when never recorded)."""
    if not names:
        return {}
    rows = await _all(conn, f"SELECT name, config FROM nodes WHERE name IN ({_marks(names)})",
                      list(names))
    found = {row[0]: row[1] for row in rows}
    return {name: found.get(name) for name in names}
