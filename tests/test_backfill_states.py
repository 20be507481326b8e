"""The backfill state table, walked against a real SQLite store through the guarded `transition_backfill`,
and the engine's backfill actions that keep a status (no transition) or change it (always through the guard)."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from scheduler.engine import Engine
from scheduler.errors import InvalidTransition, UsageError
from scheduler.home import Home, private_dir, write_private
from scheduler.states import (
    BACKFILL_ENDED,
    BACKFILL_OPEN,
    BACKFILL_TRANSITIONS,
    BackfillStatus,
    RunStatus,
    sources_of,
)
from scheduler.store import queries as q

B = BackfillStatus
ALL_PAIRS = [(source, target) for source in BackfillStatus for target in BackfillStatus]
DAILY = 'name = "daily"\ncommand = "echo {day}"\n[partition]\nparam = "day"\nkind = "daily"\n'


def _path_from_active(goal: BackfillStatus) -> list[BackfillStatus]:
    """The shortest list of targets that takes a new (active) backfill to `goal` through allowed transitions."""
    routes: dict[BackfillStatus, list[BackfillStatus]] = {B.ACTIVE: []}
    pending = deque([B.ACTIVE])
    while pending:
        current = pending.popleft()
        for source, target in BACKFILL_TRANSITIONS:
            if source == current and target not in routes:
                routes[target] = [*routes[current], target]
                pending.append(target)
    return routes[goal]


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    home = Home(tmp_path / "home")
    home.ensure()
    private_dir(home.jobs_dir)
    write_private(home.jobs_dir / "daily.toml", DAILY)
    async with await Engine.open(home, actor="tester") as opened:
        yield opened


async def _backfill(engine: Engine, days: int = 2, canary: int | None = None) -> int:
    plan = await engine.plan_backfill("daily", range_from="2026-01-01", range_to=f"2026-01-{days:02d}",
                                      canary=canary)
    backfill_id, _ = await engine.create_backfill(plan)
    return backfill_id


async def _backfill_in(engine: Engine, status: BackfillStatus) -> int:
    """A fresh backfill moved to `status` along allowed transitions (the store's guard only)."""
    backfill_id = await _backfill(engine)
    async with engine.db.write() as conn:
        for target in _path_from_active(status):
            await q.transition_backfill(conn, backfill_id, target, engine.now())
    return backfill_id


async def _snapshot(engine: Engine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every backfill, run and event row, to prove nothing changed."""
    tables = [await engine.db.fetchall(f"SELECT * FROM {table} ORDER BY id") for table in ("backfills", "runs",
                                                                                          "events")]
    backfills, runs, events = ([tuple(row) for row in rows] for rows in tables)
    return backfills, runs, events


async def _status(engine: Engine, backfill_id: int) -> str:
    return (await engine.backfill_detail(backfill_id)).backfill.status


# --- the table itself --------------------------------------------------------------------------------------

def test_every_status_is_reachable_from_active() -> None:
    for status in BackfillStatus:
        assert status == B.ACTIVE or _path_from_active(status)[-1] == status


def test_an_ended_backfill_leaves_only_through_a_retry_of_its_failed_runs() -> None:
    for status in BACKFILL_ENDED:
        exits = {target: action for (source, target), action in BACKFILL_TRANSITIONS.items() if source == status}
        assert exits == {B.ACTIVE: "operator retry of its failed runs"}, status
    assert set(BackfillStatus) == BACKFILL_OPEN | BACKFILL_ENDED and not BACKFILL_OPEN & BACKFILL_ENDED


def test_only_an_active_backfill_is_done_and_no_status_moves_to_itself() -> None:
    assert sources_of(BACKFILL_TRANSITIONS, B.DONE) == (B.ACTIVE,)
    assert all(source != target for source, target in BACKFILL_TRANSITIONS)


# --- the table against a real store ------------------------------------------------------------------------

@pytest.mark.parametrize(("source", "target"), [pair for pair in ALL_PAIRS if pair in BACKFILL_TRANSITIONS],
                         ids=lambda status: status.value)
async def test_allowed_transition_changes_status_and_its_fields(
    engine: Engine, source: BackfillStatus, target: BackfillStatus
) -> None:
    backfill_id = await _backfill_in(engine, source)
    _, runs_before, events_before = await _snapshot(engine)
    async with engine.db.write() as conn:
        await q.transition_backfill(conn, backfill_id, target, "2030-01-01T00:00:00.000000Z", max_parallel=3)
        backfill = await q.get_backfill(conn, backfill_id)
    assert backfill is not None
    assert (backfill.status, backfill.max_parallel, backfill.updated_at) == (target, 3, "2030-01-01T00:00:00.000000Z")
    assert (await _snapshot(engine))[1:] == (runs_before, events_before), "the guard changes the backfill only"


@pytest.mark.parametrize(("source", "target"), [pair for pair in ALL_PAIRS if pair not in BACKFILL_TRANSITIONS],
                         ids=lambda status: status.value)
async def test_disallowed_transition_raises_and_changes_nothing(
    engine: Engine, source: BackfillStatus, target: BackfillStatus
) -> None:
    backfill_id = await _backfill_in(engine, source)
    before = await _snapshot(engine)
    # Caught inside the transaction, then committed: the guard itself must write nothing.
    async with engine.db.write() as conn:
        with pytest.raises(InvalidTransition, match=f"backfill {backfill_id} is {source}; it cannot become {target}"):
            await q.transition_backfill(conn, backfill_id, target, engine.now(), max_parallel=9)
    assert await _snapshot(engine) == before


async def test_missing_backfill_unknown_field_and_a_free_status_are_refused(engine: Engine) -> None:
    backfill_id = await _backfill(engine)
    before = await _snapshot(engine)
    async with engine.db.write() as conn:
        with pytest.raises(InvalidTransition, match="backfill 424242 does not exist"):
            await q.transition_backfill(conn, 424242, B.PAUSED, engine.now())
        with pytest.raises(ValueError, match="not a backfill field"):
            await q.transition_backfill(conn, backfill_id, B.PAUSED, engine.now(), queue="elsewhere")
        with pytest.raises(ValueError, match="only through transition_backfill"):
            await q.update_backfill(conn, backfill_id, engine.now(), status=B.PAUSED)
    assert await _snapshot(engine) == before


# --- the engine's actions ----------------------------------------------------------------------------------

async def test_pause_and_resume_walk_the_table_and_repeating_them_changes_no_status(engine: Engine) -> None:
    backfill_id = await _backfill(engine)
    await engine.pause_backfill(backfill_id, "night")
    await engine.pause_backfill(backfill_id)  # already paused: recorded, but no transition
    assert await _status(engine, backfill_id) == B.PAUSED
    await engine.resume_backfill(backfill_id)
    await engine.resume_backfill(backfill_id)
    assert await _status(engine, backfill_id) == B.ACTIVE
    kinds = [event.kind for event in await engine.events(10) if event.kind.startswith("backfill_")]
    assert kinds == ["backfill_resumed", "backfill_resumed", "backfill_paused", "backfill_paused", "backfill_created"]


async def test_resuming_an_active_backfill_releases_its_canary_without_a_transition(engine: Engine) -> None:
    backfill_id = await _backfill(engine, days=3, canary=1)
    await engine.resume_backfill(backfill_id)
    backfill = (await engine.backfill_detail(backfill_id)).backfill
    assert (backfill.status, backfill.canary_released) == (B.ACTIVE, True)


@pytest.mark.parametrize("how", ["cancel", "done"])
async def test_an_ended_backfill_refuses_changes_but_retry_failed_reactivates_it(engine: Engine, how: str) -> None:
    backfill_id = await _backfill(engine)
    if how == "cancel":
        results = await engine.cancel_backfill(backfill_id, reason="wrong range")
        assert all(result.ok for result in results) and len(results) == 2
    else:
        async with engine.db.write() as conn:
            await q.transition_backfill(conn, backfill_id, B.DONE, engine.now())
    ended = await _snapshot(engine)
    for action in (engine.pause_backfill(backfill_id), engine.resume_backfill(backfill_id),
                   engine.set_backfill_max_parallel(backfill_id, 2), engine.cancel_backfill(backfill_id)):
        with pytest.raises(UsageError, match="it can no longer be changed"):
            await action
    assert await _snapshot(engine) == ended
    results = await engine.retry_failed_backfill(backfill_id)
    assert await _status(engine, backfill_id) == B.ACTIVE
    assert [result.ok for result in results] == ([True, True] if how == "cancel" else [])
    assert {run.status for run in (await engine.backfill_detail(backfill_id)).runs} == {RunStatus.QUEUED}
