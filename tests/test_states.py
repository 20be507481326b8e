"""The run state table, walked against a real SQLite store through the guarded `transition_run`."""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
from collections import deque
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from scheduler.engine import Engine
from scheduler.errors import InvalidTransition
from scheduler.home import Home, private_dir, write_private
from scheduler.outcomes import AttemptEnd, decide
from scheduler.states import (
    ATTEMPT_ENDED,
    TERMINAL,
    TRANSITIONS,
    AttemptStatus,
    EndReason,
    RunStatus,
    sources_of,
)
from scheduler.store import queries as q

S = RunStatus
ALL_PAIRS = [(source, target) for source in RunStatus for target in RunStatus]
JOB_TOML = 'command = "true"\n[retry]\nmax_attempts = 3\nbackoff = "1s"\n'


def _path_from_queued(goal: RunStatus) -> list[RunStatus]:
    """The shortest list of targets that takes a new (queued) run to `goal` through allowed transitions."""
    routes: dict[RunStatus, list[RunStatus]] = {S.QUEUED: []}
    pending = deque([S.QUEUED])
    while pending:
        current = pending.popleft()
        for source, target in TRANSITIONS:
            if source == current and target not in routes:
                routes[target] = [*routes[current], target]
                pending.append(target)
    return routes[goal]


def _new_home(root: Path, job_toml: str = JOB_TOML) -> Home:
    home = Home(root / "home")
    home.ensure()
    private_dir(home.jobs_dir)
    write_private(home.jobs_dir / "walk.toml", 'name = "walk"\n' + job_toml)
    return home


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with await Engine.open(_new_home(tmp_path), actor="tester") as opened:
        yield opened


async def _run_in(engine: Engine, status: RunStatus) -> int:
    """A fresh run moved to `status` along allowed transitions."""
    run_id, _ = await engine.submit("walk", {})
    for target in _path_from_queued(status):
        async with engine.db.write() as conn:
            await q.transition_run(conn, run_id, target, engine.now(), kind="walk", actor="tester")
    return run_id


async def _snapshot(engine: Engine, run_id: int) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    """The run's whole row and every event row in the store, to prove nothing changed."""
    row = await engine.db.fetchone("SELECT * FROM runs WHERE id = ?", (run_id,))
    assert row is not None
    events = await engine.db.fetchall("SELECT * FROM events ORDER BY id")
    return dict(row), [tuple(event) for event in events]


# --- the table itself --------------------------------------------------------------------------------------

def test_every_status_is_reachable_from_queued() -> None:
    for status in RunStatus:
        path = _path_from_queued(status)
        assert not path or path[-1] == status


def test_every_live_status_can_still_end() -> None:
    for status in set(RunStatus) - TERMINAL:
        reachable, frontier = {status}, [status]
        while frontier:
            current = frontier.pop()
            for source, target in TRANSITIONS:
                if source == current and target not in reachable:
                    reachable.add(target)
                    frontier.append(target)
        assert reachable & TERMINAL, f"{status} can never end"


def test_terminal_states_only_leave_through_operator_retry() -> None:
    for status in TERMINAL:
        exits = {target: action for (source, target), action in TRANSITIONS.items() if source == status}
        assert exits == {S.QUEUED: "operator retry"}, status
    retry_sources = {source for (source, _), action in TRANSITIONS.items() if action == "operator retry"}
    assert retry_sources == TERMINAL


def test_sources_of_agrees_with_the_table() -> None:
    for target in RunStatus:
        assert set(sources_of(TRANSITIONS, target)) == {source for source in RunStatus
                                                        if (source, target) in TRANSITIONS}


# --- the table against a real store ------------------------------------------------------------------------

@pytest.mark.parametrize(("source", "target"), [pair for pair in ALL_PAIRS if pair in TRANSITIONS],
                         ids=lambda status: status.value)
async def test_allowed_transition_changes_status_and_appends_one_event(
    engine: Engine, source: RunStatus, target: RunStatus
) -> None:
    run_id = await _run_in(engine, source)
    _, events_before = await _snapshot(engine, run_id)
    async with engine.db.write() as conn:
        old = await q.transition_run(conn, run_id, target, engine.now(), kind="probe", actor="tester",
                                     detail="walk", on_attempt=7)
    assert old == source
    assert (await engine.run(run_id)).status == target
    events = await engine.db.fetchall("SELECT * FROM events ORDER BY id")
    assert [tuple(event) for event in events[:-1]] == events_before
    newest = events[-1]
    assert (newest["run_id"], newest["kind"], newest["old_status"], newest["new_status"]) == (
        run_id, "probe", source.value, target.value)
    assert (newest["actor"], newest["detail"], newest["attempt"]) == ("tester", "walk", 7)


@pytest.mark.parametrize(("source", "target"), [pair for pair in ALL_PAIRS if pair not in TRANSITIONS],
                         ids=lambda status: status.value)
async def test_disallowed_transition_raises_and_changes_nothing(
    engine: Engine, source: RunStatus, target: RunStatus
) -> None:
    run_id = await _run_in(engine, source)
    before = await _snapshot(engine, run_id)
    # Caught inside the transaction, then committed: the guard itself must write nothing.
    async with engine.db.write() as conn:
        with pytest.raises(InvalidTransition, match=f"is {source.value}; it cannot become {target.value}"):
            await q.transition_run(conn, run_id, target, engine.now(), kind="probe", actor="tester",
                                   attempt=99, node="nowhere")
    assert await _snapshot(engine, run_id) == before


async def test_expect_narrows_the_table_and_changes_nothing(engine: Engine) -> None:
    run_id = await _run_in(engine, S.RUNNING)
    before = await _snapshot(engine, run_id)
    async with engine.db.write() as conn:
        # running -> queued is in the table, but this caller only means "backoff elapsed".
        with pytest.raises(InvalidTransition):
            await q.transition_run(conn, run_id, S.QUEUED, engine.now(), kind="retry_due", actor="tester",
                                   expect=[S.RETRY_WAIT])
    assert await _snapshot(engine, run_id) == before


async def test_missing_run_and_unknown_field_are_refused(engine: Engine) -> None:
    run_id = await _run_in(engine, S.QUEUED)
    before = await _snapshot(engine, run_id)
    async with engine.db.write() as conn:
        with pytest.raises(InvalidTransition, match="does not exist"):
            await q.transition_run(conn, 424242, S.RUNNING, engine.now(), kind="probe", actor="tester")
        with pytest.raises(ValueError, match="not a run field"):
            await q.transition_run(conn, run_id, S.RUNNING, engine.now(), kind="probe", actor="tester",
                                   status="succeeded")
    assert await _snapshot(engine, run_id) == before


@pytest.mark.parametrize("status", sorted(TERMINAL), ids=str)
async def test_operator_retry_is_the_way_out_of_a_terminal_state(engine: Engine, status: RunStatus) -> None:
    run_id = await _run_in(engine, status)
    [refused] = await engine.cancel([run_id])
    assert not refused.ok and (await engine.run(run_id)).status == status
    [result] = await engine.retry([run_id])
    assert result.ok
    assert (await engine.run(run_id)).status == S.QUEUED
    newest = (await engine.run_detail(run_id)).events[-1]
    assert (newest.kind, newest.old_status, newest.new_status, newest.actor) == ("retry", status, "queued", "tester")


@pytest.mark.parametrize("status", sorted(set(RunStatus) - TERMINAL), ids=str)
async def test_operator_retry_refuses_a_live_run(engine: Engine, status: RunStatus) -> None:
    run_id = await _run_in(engine, status)
    before = await _snapshot(engine, run_id)
    [result] = await engine.retry([run_id])
    assert not result.ok and "only ended runs retry" in result.message
    assert await _snapshot(engine, run_id) == before


# --- random sequences of scheduler and operator actions ----------------------------------------------------

ENDINGS = [
    AttemptEnd(AttemptStatus.SUCCEEDED, EndReason.EXIT, 0),
    AttemptEnd(AttemptStatus.FAILED, EndReason.EXIT, 1),
    AttemptEnd(AttemptStatus.FAILED, EndReason.EXIT, 3),
    AttemptEnd(AttemptStatus.FAILED, EndReason.EXIT, 137, "killed by signal SIGKILL"),
    AttemptEnd(AttemptStatus.TIMED_OUT, EndReason.TIMEOUT, 143),
    AttemptEnd(AttemptStatus.CANCELLED, EndReason.CANCELLED, 143),
    AttemptEnd(AttemptStatus.LOST, EndReason.NODE_LOST, None, "node n1 did not answer"),
    AttemptEnd(AttemptStatus.YIELDED, EndReason.CHECKPOINT_YIELD, 85),
    AttemptEnd(AttemptStatus.PREEMPTED, EndReason.PREEMPTED, 143, "its node was drained"),
    AttemptEnd(AttemptStatus.FAILED, EndReason.LAUNCH_FAILED, None, "launch script failed"),
    AttemptEnd(AttemptStatus.FAILED, EndReason.NOT_SENT, None, "connection refused"),
    AttemptEnd(AttemptStatus.LOST, EndReason.VANISHED, None, "the job's process is gone"),
]
OUTCOMES = st.sampled_from(ENDINGS)
JOBS = st.fixed_dictionaries({
    "max_attempts": st.integers(1, 4),
    "on_exit_codes": st.sampled_from([None, [3], [1, 3]]),
    "node_lost_consumes_attempt": st.booleans(),
})


def test_the_random_sequences_try_every_way_an_attempt_ends() -> None:
    """A new attempt status or end reason must join ENDINGS, or the property below would never meet it."""
    assert {end.status for end in ENDINGS} == ATTEMPT_ENDED
    assert {end.reason for end in ENDINGS} == set(EndReason)


class RunLifecycle(RuleBasedStateMachine):
    """Scheduler and operator actions in random order, on a real store; the real retry policy picks targets."""

    runs = Bundle("runs")

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="sluice-states-"))
        self.loop = asyncio.new_event_loop()
        self.engine: Engine | None = None
        self.expected: dict[int, RunStatus] = {}
        self.events_seen: list[tuple[Any, ...]] = []
        self.clock = datetime(2026, 1, 1, tzinfo=UTC)
        self.rng = random.Random(0)

    def _await(self, awaitable: Any) -> Any:
        return self.loop.run_until_complete(awaitable)

    def _now(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock

    async def _open(self, retry: dict[str, Any]) -> Engine:
        if self.engine is None:
            home = _new_home(self.folder, 'command = "true"\n')
            self.engine = await Engine.open(home, clock=self._now, actor="operator")
        job = self.engine.home.jobs_dir / f"job{len(self.expected)}.toml"
        codes = "" if retry["on_exit_codes"] is None else f"on_exit_codes = {retry['on_exit_codes']}\n"
        write_private(job, f'name = "{job.stem}"\ncommand = "true"\n[retry]\nmax_attempts = {retry["max_attempts"]}\n'
                           f'node_lost_consumes_attempt = {str(retry["node_lost_consumes_attempt"]).lower()}\n{codes}')
        return self.engine

    async def _transition(self, run_id: int, target: RunStatus, **kwargs: Any) -> None:
        """Apply through the guard: an allowed change must happen, a disallowed one must raise and change nothing."""
        assert self.engine is not None
        current = self.expected[run_id]
        allowed = (current, target) in TRANSITIONS and current in kwargs.get("expect", [current])
        async with self.engine.db.write() as conn:
            try:
                await q.transition_run(conn, run_id, target, self.engine.now(), actor="scheduler", **kwargs)
            except InvalidTransition:
                assert not allowed, f"{current} -> {target} is allowed but was refused"
                return
        assert allowed, f"{current} -> {target} is not allowed but happened"
        self.expected[run_id] = target

    @rule(target=runs, retry=JOBS)
    def submit(self, retry: dict[str, Any]) -> int:
        async def submit() -> int:
            engine = await self._open(retry)
            run_id, _ = await engine.submit(f"job{len(self.expected)}", {})
            return run_id

        run_id = self._await(submit())
        self.expected[run_id] = S.QUEUED
        return run_id

    @rule(run_id=runs)
    def dispatch(self, run_id: int) -> None:
        async def dispatch() -> None:
            assert self.engine is not None
            number = (await self.engine.run(run_id)).attempt + 1
            await self._transition(run_id, S.RUNNING, kind="dispatched", on_attempt=number, attempt=number,
                                   node="n1", started_at=self.engine.now(), exit_code=None)

        self._await(dispatch())

    @rule(run_id=runs, end=OUTCOMES)
    def attempt_ends(self, run_id: int, end: AttemptEnd) -> None:
        async def attempt_ends() -> None:
            assert self.engine is not None
            run = await self.engine.run(run_id)
            if run.status != S.RUNNING:
                return  # as the scheduler's _end_attempt: an attempt of a run that moved on ends nothing
            decision = decide(run, end, self.clock, self.rng)
            fields: dict[str, Any] = {"exit_code": end.exit_code, "next_attempt_at": decision.next_attempt_at,
                                      "cancel_requested": None}
            if decision.consumes:
                fields["attempts_used"] = run.attempts_used + 1
            if decision.target in TERMINAL:
                fields["ended_at"] = self.engine.now()
            await self._transition(run_id, decision.target, kind="attempt_ended", detail=decision.detail,
                                   on_attempt=run.attempt, **fields)

        self._await(attempt_ends())

    @rule(run_id=runs, end=OUTCOMES)
    def dispatch_and_end(self, run_id: int, end: AttemptEnd) -> None:
        """A whole attempt in one step, so short sequences still reach retries and dead letters."""
        self.dispatch(run_id)
        self.attempt_ends(run_id, end)

    @rule(run_id=runs)
    def operator_cancels(self, run_id: int) -> None:
        assert self.engine is not None
        [result] = self._await(self.engine.cancel([run_id], "hypothesis"))
        before = self.expected[run_id]
        assert result.ok == (before in (S.QUEUED, S.RETRY_WAIT, S.RUNNING)), result.message
        if before in (S.QUEUED, S.RETRY_WAIT):
            self.expected[run_id] = S.CANCELLED

    @rule(run_id=runs)
    def operator_retries(self, run_id: int) -> None:
        assert self.engine is not None
        [result] = self._await(self.engine.retry([run_id]))
        assert result.ok == (self.expected[run_id] in TERMINAL), result.message
        if result.ok:
            self.expected[run_id] = S.QUEUED

    @rule(run_id=runs)
    def backoff_elapses(self, run_id: int) -> None:
        self._await(self._transition(run_id, S.QUEUED, kind="retry_due", expect=[S.RETRY_WAIT],
                                     next_attempt_at=None))

    @rule(run_id=runs, status=st.sampled_from(list(RunStatus)))
    def anything_at_all(self, run_id: int, status: RunStatus) -> None:
        self._await(self._transition(run_id, status, kind="fuzz"))

    @invariant()
    def store_matches_the_table(self) -> None:
        if self.engine is None:
            return
        rows = self._await(self.engine.db.fetchall("SELECT id, status FROM runs"))
        assert {row["id"]: RunStatus(row["status"]) for row in rows} == self.expected
        rows = self._await(self.engine.db.fetchall("SELECT * FROM events ORDER BY id"))
        events = [tuple(row) for row in rows]
        assert events[:len(self.events_seen)] == self.events_seen, "events are append-only"
        for event in rows:
            if event["kind"] == "submitted":
                assert (event["old_status"], event["new_status"]) == (None, "queued")
            elif event["new_status"] is not None:
                pair = (RunStatus(event["old_status"]), RunStatus(event["new_status"]))
                assert pair in TRANSITIONS, f"event {event['id']} records {pair}"
        self.events_seen = events

    def teardown(self) -> None:
        if self.engine is not None:
            self._await(self.engine.close())
        self.loop.close()
        shutil.rmtree(self.folder, ignore_errors=True)


RunLifecycle.TestCase.settings = settings(
    max_examples=50, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_random_action_sequences_never_leave_the_table = RunLifecycle.TestCase
