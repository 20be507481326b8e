"""The job catalog: every job file on its own (a broken one shows its error, the others stay), next ticks,
last runs, and a cron job triggered now."""

from __future__ import annotations

from datetime import UTC, datetime

from test_console_support import NOW, fixed_clock, make_home

from scheduler.catalog import job_catalog
from scheduler.cron import next_tick
from scheduler.engine import Engine
from scheduler.states import RunStatus

pytest_plugins = ("test_console_support",)

NIGHTLY = (
    'command = "rollup --day {day}"\nschedule = "0 2 * * *"\ntimezone = "Europe/Paris"\n'
    '[partition]\nparam = "day"\nkind = "daily"\n'
)


def test_a_broken_job_file_is_listed_with_its_error_and_the_others_stay_valid(tmp_path):
    home = make_home(tmp_path / "home")
    (home.jobs_dir / "broken.toml").write_text('command = "x"\nretry = 3\n')
    (home.jobs_dir / "orphan.toml").write_text('command = "x"\nafter = ["missing"]\n')
    entries = {entry.name: entry for entry in job_catalog(home.jobs_dir)}
    assert sorted(entries) == ["broken", "etl", "hello", "orphan"]
    assert entries["hello"].definition is not None and entries["hello"].error is None
    assert entries["broken"].definition is None
    assert entries["broken"].error is not None and "broken.toml" in entries["broken"].error
    assert "retry" in entries["broken"].error
    assert entries["orphan"].error is not None and "unknown job 'missing'" in entries["orphan"].error


def test_a_duplicate_job_name_is_an_error_on_the_second_file(tmp_path):
    home = make_home(tmp_path / "home")
    (home.jobs_dir / "zz_copy.toml").write_text('name = "hello"\ncommand = "echo again"\n')
    entries = job_catalog(home.jobs_dir)
    errors = [entry for entry in entries if entry.error]
    assert len(errors) == 1 and "already defined" in (errors[0].error or "")
    assert errors[0].path.name == "zz_copy.toml"


def test_next_tick_is_the_first_tick_after_now_in_the_jobs_zone():
    # 02:00 in Paris is 01:00 UTC in November.
    assert next_tick("0 2 * * *", "Europe/Paris", NOW) == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    assert next_tick("@hourly", "UTC", NOW) == datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


async def test_job_summaries_give_the_next_tick_and_the_last_run(home):
    (home.jobs_dir / "nightly.toml").write_text(NIGHTLY)
    async with await Engine.open(home, clock=fixed_clock) as engine:
        await engine.submit("hello", {})
        second, _ = await engine.submit("hello", {})
        summaries = {summary.entry.name: summary for summary in await engine.job_summaries()}
    assert summaries["nightly"].next_tick == "2026-11-24T01:00:00.000000Z"
    assert summaries["nightly"].trigger_partition == "2026-11-23"
    assert summaries["hello"].next_tick is None and summaries["hello"].trigger_partition is None
    last = summaries["hello"].last_run
    assert last is not None and last.id == second and last.status == RunStatus.QUEUED
    assert summaries["etl"].last_run is None


async def test_trigger_now_submits_one_run_of_the_current_partition(home):
    (home.jobs_dir / "nightly.toml").write_text(NIGHTLY)
    async with await Engine.open(home, clock=fixed_clock) as engine:
        run_id = await engine.trigger_now("nightly")
        run = await engine.run(run_id)
        events = (await engine.run_detail(run_id)).events
    assert run.job == "nightly" and run.status == RunStatus.QUEUED
    assert run.partition == "2026-11-23"  # today in the job's zone
    assert run.schedule_tick is None  # not a tick: the schedule's own next tick still comes
    assert [event.detail for event in events if event.kind == "submitted"] == [
        "triggered now, outside its schedule"
    ]
