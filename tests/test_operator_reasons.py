"""Operator actions through the real CLI: each records the OS user as its event's actor, and the destructive ones
take --reason, kept in the event's detail and shown by `events`, `show` and their --json output."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest
from harness import SluiceHome
from test_console_support import JOBS, NODES

#: The commands that stop, kill or re-run work, so that someone later asks why: each takes --reason.
DESTRUCTIVE = ("cancel", "retry", "drain", "pause", "backfill-pause", "backfill-cancel", "backfill-retry-failed")
#: Event fields of `--json` before reasons existed: kept as they were.
EVENT_FIELDS = {"id", "at", "run_id", "attempt", "kind", "old_status", "new_status", "actor", "detail"}


@pytest.fixture
def sluice(tmp_path: Path) -> SluiceHome:
    home = SluiceHome(tmp_path, NODES)
    for name, text in JOBS.items():
        home.add_job(name, text)
    return home


async def _ok(sluice: SluiceHome, *args: str) -> None:
    result = await sluice.cli(*args)
    assert result.code == 0, f"{args}: exit {result.code}\n{result.stderr}"


async def test_destructive_actions_record_the_os_user_and_the_reason(sluice: SluiceHome) -> None:
    runs = [str(await sluice.submit("hello")) for _ in range(2)]
    await _ok(sluice, "cancel", *runs, "--reason", "wrong day")
    await _ok(sluice, "retry", *runs, "--reason", "day fixed")
    await _ok(sluice, "pause", "default", "--reason", "database maintenance")
    await _ok(sluice, "drain", "n1", "--reason", "kernel update")
    created = await sluice.cli_json("backfill", "etl", "--from", "2026-11-01", "--to", "2026-11-02")
    backfill = str(created["backfill_id"])
    await _ok(sluice, "backfill-pause", backfill, "--reason", "canary looks off")
    await _ok(sluice, "backfill-retry-failed", backfill, "--reason", "nothing failed yet")
    await _ok(sluice, "backfill-cancel", backfill, "--reason", "bad fix")

    events = (await sluice.cli_json("events", "--limit", "100"))["events"]
    assert all(set(event) >= EVENT_FIELDS for event in events)
    reasons = [(event["kind"], event["run_id"], event["reason"]) for event in reversed(events) if event["reason"]]
    first, second = (int(run) for run in runs)
    bf_runs = created["run_ids"]
    assert reasons == [
        ("cancelled", first, "wrong day"), ("cancelled", second, "wrong day"),
        ("retry", first, "day fixed"), ("retry", second, "day fixed"),
        ("pause", None, "database maintenance"), ("drain", None, "kernel update"),
        ("backfill_paused", None, "canary looks off"), ("backfill_retry_failed", None, "nothing failed yet"),
        ("backfill_cancelled", None, "bad fix"),
        ("cancelled", bf_runs[0], "bad fix"), ("cancelled", bf_runs[1], "bad fix"),
    ], reasons
    operator = [event for event in events if event["reason"] is not None]
    assert {event["actor"] for event in operator} == {getpass.getuser()}
    assert all(event["reason"] in (event["detail"] or "") for event in operator), "the detail keeps the reason"

    table = (await sluice.cli("events", "--limit", "100")).text
    for reason in ("wrong day", "day fixed", "database maintenance", "kernel update", "canary looks off", "bad fix"):
        assert reason in table, f"{reason!r} not shown by sluice events"
    shown = await sluice.cli_json("show", runs[0])
    assert [(e["kind"], e["reason"]) for e in shown["events"] if e["reason"]] == [("cancelled", "wrong day"),
                                                                               ("retry", "day fixed")]
    assert "day fixed" in (await sluice.cli("show", runs[0])).text


async def test_every_destructive_command_takes_a_reason_and_the_others_do_not(sluice: SluiceHome) -> None:
    for command in DESTRUCTIVE:
        result = await sluice.cli(command, "--help")
        assert result.code == 0 and "--reason" in result.text, command
    for command in ("submit", "priority", "undrain", "resume", "backfill-resume", "backfill-set"):
        result = await sluice.cli(command, "--help")
        assert result.code == 0 and "--reason" not in result.text, command
