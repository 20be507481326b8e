"""The attempt state table, walked against a real SQLite store through the guarded `transition_attempt`."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from scheduler.engine import Engine
from scheduler.errors import InvalidTransition
from scheduler.home import Home, private_dir, write_private
from scheduler.states import ATTEMPT_ACTIVE, ATTEMPT_ENDED, ATTEMPT_TRANSITIONS, AttemptStatus, sources_of
from scheduler.store import queries as q

A = AttemptStatus
ALL_PAIRS = [(source, target) for source in AttemptStatus for target in AttemptStatus]


def _path_from_starting(goal: AttemptStatus) -> list[AttemptStatus]:
    """The shortest list of targets that takes a new (starting) attempt to `goal` through allowed transitions."""
    routes: dict[AttemptStatus, list[AttemptStatus]] = {A.STARTING: []}
    pending = deque([A.STARTING])
    while pending:
        current = pending.popleft()
        for source, target in ATTEMPT_TRANSITIONS:
            if source == current and target not in routes:
                routes[target] = [*routes[current], target]
                pending.append(target)
    return routes[goal]


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    home = Home(tmp_path / "home")
    home.ensure()
    private_dir(home.jobs_dir)
    write_private(home.jobs_dir / "walk.toml", 'name = "walk"\ncommand = "true"\n')
    async with await Engine.open(home, actor="tester") as opened:
        yield opened


async def _attempt_in(engine: Engine, status: AttemptStatus) -> int:
    """A fresh attempt (of a fresh run) moved to `status` along allowed transitions."""
    run_id, _ = await engine.submit("walk", {})
    async with engine.db.write() as conn:
        attempt_id = await q.insert_attempt(conn, run_id, 1, "n1", f"/w/r{run_id}", None, engine.now())
        for target in _path_from_starting(status):
            await q.transition_attempt(conn, attempt_id, target)
    return attempt_id


async def _snapshot(engine: Engine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every attempt row and every event row, to prove nothing changed."""
    attempts = await engine.db.fetchall("SELECT * FROM attempts ORDER BY id")
    events = await engine.db.fetchall("SELECT * FROM events ORDER BY id")
    return [tuple(row) for row in attempts], [tuple(row) for row in events]


# --- the table itself --------------------------------------------------------------------------------------

def test_every_status_is_reachable_from_starting() -> None:
    for status in AttemptStatus:
        path = _path_from_starting(status)
        assert path[-1:] == [status] or status == A.STARTING


def test_an_attempt_is_started_once_and_ends_once() -> None:
    assert sources_of(ATTEMPT_TRANSITIONS, A.STARTING) == ()
    ended_sources = {source for source, _ in ATTEMPT_TRANSITIONS} - ATTEMPT_ACTIVE
    assert not ended_sources, "an ended attempt never changes status again"
    for status in ATTEMPT_ACTIVE:
        assert any(source == status and target in ATTEMPT_ENDED for source, target in ATTEMPT_TRANSITIONS)


def test_every_ending_is_reachable_from_running() -> None:
    """classify_exit and the node's lease end running attempts in any of the ended statuses."""
    assert set(sources_of(ATTEMPT_TRANSITIONS, A.SUCCEEDED)) == {A.RUNNING}
    assert {target for source, target in ATTEMPT_TRANSITIONS if source == A.RUNNING} == ATTEMPT_ENDED


def test_a_starting_attempt_ends_only_by_its_launch_or_its_node() -> None:
    """Before the worker reports a process, only the launch (failed, never sent) or a lost node ends it."""
    assert {target for source, target in ATTEMPT_TRANSITIONS if source == A.STARTING} == {A.RUNNING, A.FAILED, A.LOST}


# --- the table against a real store ------------------------------------------------------------------------

@pytest.mark.parametrize(("source", "target"), [pair for pair in ALL_PAIRS if pair in ATTEMPT_TRANSITIONS],
                         ids=lambda status: status.value)
async def test_allowed_transition_changes_status_and_its_fields(
    engine: Engine, source: AttemptStatus, target: AttemptStatus
) -> None:
    attempt_id = await _attempt_in(engine, source)
    _, events_before = await _snapshot(engine)
    async with engine.db.write() as conn:
        await q.transition_attempt(conn, attempt_id, target, exit_code=7, error="walk")
        attempt = await q.get_attempt(conn, attempt_id)
    assert attempt is not None
    assert (attempt.status, attempt.exit_code, attempt.error) == (target, 7, "walk")
    assert (await _snapshot(engine))[1] == events_before, "an attempt's transition writes no event by itself"


@pytest.mark.parametrize(("source", "target"), [pair for pair in ALL_PAIRS if pair not in ATTEMPT_TRANSITIONS],
                         ids=lambda status: status.value)
async def test_disallowed_transition_raises_and_changes_nothing(
    engine: Engine, source: AttemptStatus, target: AttemptStatus
) -> None:
    attempt_id = await _attempt_in(engine, source)
    before = await _snapshot(engine)
    # Caught inside the transaction, then committed: the guard itself must write nothing.
    async with engine.db.write() as conn:
        with pytest.raises(InvalidTransition, match=f"attempt {attempt_id} is {source}; it cannot become {target}"):
            await q.transition_attempt(conn, attempt_id, target, exit_code=99, pid=4242)
    assert await _snapshot(engine) == before


async def test_missing_attempt_unknown_field_and_a_free_status_are_refused(engine: Engine) -> None:
    attempt_id = await _attempt_in(engine, A.STARTING)
    before = await _snapshot(engine)
    async with engine.db.write() as conn:
        with pytest.raises(InvalidTransition, match="attempt 424242 does not exist"):
            await q.transition_attempt(conn, 424242, A.RUNNING)
        with pytest.raises(ValueError, match="not an attempt field"):
            await q.transition_attempt(conn, attempt_id, A.RUNNING, node="elsewhere")
        with pytest.raises(ValueError, match="only through transition_attempt"):
            await q.update_attempt(conn, attempt_id, status=A.RUNNING)
    assert await _snapshot(engine) == before


async def test_fields_other_than_the_status_change_freely_after_the_end(engine: Engine) -> None:
    """Fencing and cleanup touch ended attempts: their fields, never their status."""
    attempt_id = await _attempt_in(engine, A.LOST)
    async with engine.db.write() as conn:
        await q.update_attempt(conn, attempt_id, kill_reason="fenced", cleaned=1)
        attempt = await q.get_attempt(conn, attempt_id)
    assert attempt is not None and (attempt.status, attempt.kill_reason, attempt.cleaned) == (A.LOST, "fenced", True)
