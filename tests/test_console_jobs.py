"""The jobs screen: each job file valid or with its error, schedule, next tick and last run; a run submitted
with params through the form (validated as `sluice submit` validates); a scheduled job triggered now."""

from __future__ import annotations

from test_console_support import SIZE, app_for, failed_run, settle, until
from textual.widgets import DataTable, Input, Static

from console.tui.screens.confirm import ConfirmScreen
from console.tui.screens.help import HelpScreen
from console.tui.screens.jobs import JobsScreen
from console.tui.screens.submit_form import SubmitFormScreen
from scheduler.states import RunStatus

pytest_plugins = ("test_console_support",)

GREET = 'command = "greet --who {who} --times {times}"\n[params]\nwho = "world"\ntimes = 3\n'
NIGHTLY = (
    'command = "rollup --day {day}"\nschedule = "0 2 * * *"\n[partition]\nparam = "day"\nkind = "daily"\n'
)


async def _jobs_screen(pilot) -> JobsScreen:
    await pilot.press("colon", *"jobs", "enter")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, JobsScreen)
    await until(pilot, lambda: screen.query_one("#jobs", DataTable).row_count > 0, "the jobs")
    return screen


async def _move_to(pilot, screen: JobsScreen, job: str) -> None:
    table = screen.query_one("#jobs", DataTable)
    keys = [key.value for key in table.rows]
    await pilot.press(*["down"] * keys.index(job))


def _cells(table: DataTable, key: str) -> list[str]:
    return [str(cell) for cell in table.get_row(key)]


async def test_jobs_screen_shows_validation_schedule_next_tick_and_last_run(engine):
    (engine.home.jobs_dir / "nightly.toml").write_text(NIGHTLY)
    await failed_run(engine)
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _jobs_screen(pilot)
        table = screen.query_one("#jobs", DataTable)
        assert [key.value for key in table.rows] == ["etl", "hello", "nightly"]
        nightly, hello = _cells(table, "nightly"), _cells(table, "hello")
        assert nightly[1] == "ok" and "0 2 * * *" in nightly and "11-24 02:00 UTC" in nightly  # SLUICE_TZ=UTC
        assert hello[1] == "ok" and RunStatus.FAILED in hello
        assert _cells(table, "etl")[-2:] == ["-", "-"]  # never ran


async def test_a_broken_job_file_shows_its_error(engine):
    (engine.home.jobs_dir / "broken.toml").write_text('command = "x"\nretry = 3\n')
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _jobs_screen(pilot)
        table = screen.query_one("#jobs", DataTable)
        assert _cells(table, "broken")[1] == "error" and _cells(table, "hello")[1] == "ok"
        await _move_to(pilot, screen, "broken")
        await settle(pilot)
        detail = str(screen.query_one("#job-detail", Static).render())
        assert "broken.toml" in detail and "retry" in detail


async def test_submit_with_params_through_the_form_creates_the_run(engine):
    (engine.home.jobs_dir / "greet.toml").write_text(GREET)
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _jobs_screen(pilot)
        await _move_to(pilot, screen, "greet")
        await pilot.press("s")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, SubmitFormScreen)
        assert [field.value for field in form.query(Input)] == ["world", "3"]  # the declared defaults
        await pilot.press("ctrl+u", *"ops team", "tab", "ctrl+u", "5", "enter")
        await settle(pilot)
        assert app.screen is screen
    [run] = await engine.runs()
    assert run.job == "greet" and run.params == {"who": "ops team", "times": "5"}


async def test_a_bad_param_value_shows_the_error_in_the_form_and_creates_nothing(engine):
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _jobs_screen(pilot)
        await _move_to(pilot, screen, "etl")
        await pilot.press("s")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, SubmitFormScreen)
        assert "day *" in str(form.query_one(".param-label", Static).render())  # the partition is required
        await pilot.press("enter")
        await settle(pilot)
        error = form.query_one("#form-error", Static)
        assert app.screen is form and "partitioned by day" in str(error.render())
        await pilot.press(*"2026-13-45", "enter")
        await settle(pilot)
        assert app.screen is form and "2026-13-45" in str(error.render())
        assert await engine.runs() == []
        await pilot.press("ctrl+u", *"2026-11-02", "enter")
        await settle(pilot)
        assert app.screen is screen
    [run] = await engine.runs()
    assert run.job == "etl" and run.partition == "2026-11-02"


async def test_trigger_now_creates_a_run_of_the_scheduled_job(engine):
    (engine.home.jobs_dir / "nightly.toml").write_text(NIGHTLY)
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _jobs_screen(pilot)
        await _move_to(pilot, screen, "nightly")
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen) and "Trigger nightly now" in app.screen.question
        await pilot.press("y")
        await settle(pilot)
        [run] = await engine.runs()
        assert run.job == "nightly" and run.status == RunStatus.QUEUED and run.partition == "2026-11-23"
        await until(
            pilot,
            lambda: RunStatus.QUEUED in _cells(screen.query_one("#jobs", DataTable), "nightly"),
            "the last run shown",
        )


async def test_trigger_now_on_an_unscheduled_job_creates_nothing(engine):
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _jobs_screen(pilot)
        await _move_to(pilot, screen, "hello")
        await pilot.press("t")
        await settle(pilot)
        assert app.screen is screen
    assert await engine.runs() == []


async def test_key_7_opens_the_jobs_screen_and_help_lists_its_keys(engine):
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("7")
        await settle(pilot)
        assert isinstance(app.screen, JobsScreen)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        described = set(dict(app.screen.keys).values())
        assert {"Submit a run…", "Trigger now"} <= described
