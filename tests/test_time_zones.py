"""Times shown to people: in SLUICE_TZ or the system's zone, the zone always marked, the same in the CLI and
the console; `--json` stays ISO-8601 UTC. The stored times are fixed (test_console_support's NOW), never now()."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from test_console_shared import row_shown, runs_screen
from test_console_support import at, failed_run, fixed_clock, settle, start
from textual.widgets import DataTable, Static

from console.main import main
from console.timefmt import display_zone, full_time, short_time, zone_mark
from console.tui.app import create_app
from console.tui.screens.run_detail import RunDetailScreen
from scheduler.engine import Engine
from scheduler.errors import UsageError
from scheduler.home import Home
from scheduler.states import AttemptStatus, EventKind, RunStatus
from scheduler.store import queries as q

pytest_plugins = ("test_console_support",)

ROOT = Path(__file__).resolve().parent.parent
#: The failed run of test_console_support, as each zone shows it: created at NOW (10:00 UTC), started 30 minutes
#: before, ended 10 minutes before.
SHOWN = {
    "Europe/Berlin": {
        "created": "2026-11-23 11:00:00 CET",
        "started": "2026-11-23 10:30:00 CET",
        "ended": "2026-11-23 10:50:00 CET",
        "row": "11-23 11:00 CET",
        "detail": "11-23 10:30 CET",
    },
    "UTC": {
        "created": "2026-11-23 10:00:00 UTC",
        "started": "2026-11-23 09:30:00 UTC",
        "ended": "2026-11-23 09:50:00 UTC",
        "row": "11-23 10:00 UTC",
        "detail": "11-23 09:30 UTC",
    },
}


@pytest.fixture
def failed_home(home: Home) -> tuple[Home, int]:
    """A home whose one run failed at fixed stored times."""

    async def populate() -> int:
        async with await Engine.open(home, clock=fixed_clock) as engine:
            return await failed_run(engine)

    return home, asyncio.run(populate())


def _sluice(home: Home, *args: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main([*args, "--home", str(home.root)]) == 0
    return capsys.readouterr().out


def _process(home: Home, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The real `sluice` in a process of its own, so TZ is read as a fresh program reads it."""
    return subprocess.run(
        [sys.executable, "-m", "console.main", *args, "--home", str(home.root)],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("zone", sorted(SHOWN))
def test_the_cli_table_and_run_detail_show_times_in_the_chosen_zone_marked(
    zone: str,
    failed_home: tuple[Home, int],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home, run_id = failed_home
    monkeypatch.setenv("SLUICE_TZ", zone)
    expected = SHOWN[zone]
    table = _sluice(home, "runs", capsys=capsys)
    row = next(line for line in table.splitlines() if line.startswith(str(run_id)))
    assert expected["created"] in row
    detail = _sluice(home, "show", str(run_id), capsys=capsys)
    assert (
        f"created {expected['created']}  started {expected['started']}  ended {expected['ended']}" in detail
    )
    assert f"{expected['started']} -> {expected['ended']}" in detail  # the attempt line
    events = _sluice(home, "events", capsys=capsys)
    assert expected["ended"] in events


@pytest.mark.parametrize("zone", sorted(SHOWN))
async def test_the_console_runs_view_and_run_detail_show_the_same_zone(
    zone: str, home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUICE_TZ", zone)
    expected = SHOWN[zone]
    async with await Engine.open(home, clock=fixed_clock) as engine:
        run_id = await failed_run(engine)

        async def factory(_: Home) -> Engine:
            return engine

        app = create_app(home, engine_factory=factory, poll_interval=0.1)
        async with app.run_test(size=(120, 30)) as pilot:
            table = await runs_screen(pilot)
            assert expected["row"] in row_shown(table, run_id)
            await app.open_view(f"run {run_id}")
            screen = app.screen
            assert isinstance(screen, RunDetailScreen)
            summary = lambda: str(screen.query_one("#summary", Static).render())  # noqa: E731
            for _ in range(100):
                if "loading" not in summary():
                    break
                await pilot.pause(0.05)
            assert f"created {expected['row']}  started {expected['detail']}" in summary()
            await pilot.press("e")
            await settle(pilot)
            events = screen.query_one("#events-table", DataTable)
            assert expected["ended"][11:] in {str(cell) for cell in events.get_column_at(0)}


async def _backing_off(home: Home) -> int:
    """A run whose attempt failed at 09:50 UTC and that is retried at 10:05 UTC."""
    async with await Engine.open(home, clock=fixed_clock) as engine:
        run_id, _ = await engine.submit("hello", {})
        attempt_id = await start(engine, run_id)
        async with engine.db.write() as conn:
            await q.transition_attempt(
                conn, attempt_id, AttemptStatus.FAILED, reason="exit", exit_code=1, ended_at=at(10)
            )
            await q.transition_run(
                conn,
                run_id,
                RunStatus.RETRY_WAIT,
                at(10),
                kind=EventKind.ATTEMPT_ENDED,
                actor="scheduler",
                exit_code=1,
                next_attempt_at=at(-5),
            )
        return run_id


async def test_times_inside_wait_reasons_follow_the_zone_in_the_cli_and_the_console(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = await _backing_off(home)
    monkeypatch.setenv("SLUICE_TZ", "Europe/Berlin")
    env = {**os.environ, "SLUICE_TZ": "Europe/Berlin"}
    table = await asyncio.to_thread(_process, home, env, "runs")
    assert "backing off until 11:05:00 CET" in table.stdout, table.stderr
    as_json = json.loads((await asyncio.to_thread(_process, home, env, "runs", "--json")).stdout)
    assert as_json["runs"][0]["wait_reason"] == "backing off until 10:05:00 UTC"  # scripts read UTC
    app = create_app(home, poll_interval=0.1)  # the console's own engine, as `sluice console` opens it
    async with app.run_test(size=(160, 30)) as pilot:
        runs = await runs_screen(pilot)
        assert "backing off until 11:05:00 CET" in row_shown(runs, run_id)


def test_the_local_zone_from_tz_is_shown_marked_when_sluice_tz_is_unset(
    failed_home: tuple[Home, int],
) -> None:
    home, run_id = failed_home
    env = {key: value for key, value in os.environ.items() if key != "SLUICE_TZ"}
    result = _process(home, {**env, "TZ": "America/New_York"}, "show", str(run_id))
    assert result.returncode == 0, result.stderr
    assert "created 2026-11-23 05:00:00 EST" in result.stdout


def test_a_bad_sluice_tz_exits_2_naming_it_without_a_traceback(failed_home: tuple[Home, int]) -> None:
    home, _ = failed_home
    result = _process(home, {**os.environ, "SLUICE_TZ": "Mars/Olympus_Mons"}, "runs")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "SLUICE_TZ='Mars/Olympus_Mons' is not a time zone" in result.stderr
    assert '"Europe/Berlin", or "UTC", or "local"' in result.stderr
    assert "Traceback" not in result.stderr


def test_json_output_stays_iso_utc_whatever_the_zone(
    failed_home: tuple[Home, int], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home, run_id = failed_home
    monkeypatch.setenv("SLUICE_TZ", "Europe/Berlin")
    runs = json.loads(_sluice(home, "runs", "--json", capsys=capsys))["runs"]
    assert [(run["id"], run["created_at"]) for run in runs] == [(run_id, "2026-11-23T10:00:00.000000Z")]


def test_summer_time_and_zones_without_an_abbreviation_are_marked() -> None:
    summer = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    assert full_time(summer, ZoneInfo("Europe/Berlin")) == "2026-07-01 12:00:00 CEST"
    assert short_time(summer, ZoneInfo("Asia/Kathmandu")) == "07-01 15:45 +0545"
    assert short_time(summer, ZoneInfo("Asia/Dubai")) == "07-01 14:00 +04"
    assert zone_mark(summer.astimezone(ZoneInfo("America/Sao_Paulo"))) == "-03"


def test_sluice_tz_names_utc_local_or_a_zone() -> None:
    assert display_zone({"SLUICE_TZ": "utc"}) is UTC
    assert display_zone({"SLUICE_TZ": "local", "TZ": "Asia/Tokyo"}) == ZoneInfo("Asia/Tokyo")
    assert display_zone({"TZ": ":Europe/Berlin"}) == ZoneInfo("Europe/Berlin")
    assert display_zone({"SLUICE_TZ": "America/Chicago", "TZ": "Asia/Tokyo"}) == ZoneInfo("America/Chicago")
    with pytest.raises(UsageError, match="SLUICE_TZ='Europe'"):
        display_zone({"SLUICE_TZ": "Europe"})
