"""Bad input through the real CLI: exit 2, one paragraph naming what is wrong and what is expected, no
traceback, nothing changed. Plus fuzzing of the job-file loader and the duration parser."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
from fuzzing import ANY_VALUE, CRON, DURATIONS, INTS, NAMES, toml_document
from harness import SluiceHome
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scheduler.config import JobDefinition, load_job_file
from scheduler.durations import MAX_SECONDS, parse_duration, parse_duration_option
from scheduler.errors import ConfigError, UsageError
from scheduler.jobspec import partition_of, render_command, resolve_params
from scheduler.models import from_iso

NODES = '[[node]]\nname = "n1"\nhost = "127.0.0.1"\nport = 2222\n'
HELLO = 'command = "echo {who}"\n[params]\nwho = "world"\n'
DAILY = 'command = "echo {day}"\n[partition]\nparam = "day"\nkind = "daily"\n'
TABLES = ("runs", "events", "queues", "nodes", "backfills", "attempts")


@pytest.fixture
async def sluice(tmp_path: Path) -> SluiceHome:
    """A home with two good jobs and one run already in the store, so 'nothing changed' means something."""
    home = SluiceHome(tmp_path, NODES)
    home.add_job("hello", HELLO)
    home.add_job("daily", DAILY)
    async with await home.engine() as engine:
        await engine.submit("hello", {"who": "seed"})
    return home


def _store(home: SluiceHome) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table that an operator command could touch."""
    with sqlite3.connect(f"file:{home.home.db_path}?mode=ro", uri=True) as conn:
        rows = {table: conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall() for table in TABLES}
    conn.close()
    return rows


async def _refused(home: SluiceHome, args: list[str], *mentions: str) -> str:
    """Run the CLI, check it refused cleanly and changed nothing; returns stderr."""
    before = _store(home)
    result = await home.cli(*args)
    stderr = result.stderr
    assert result.code == 2, f"{args}: exit {result.code}\n{stderr}"
    assert "Traceback" not in stderr and 'File "' not in stderr, stderr
    assert stderr.strip() and "\n\n" not in stderr.strip(), f"not one paragraph: {stderr!r}"
    assert "error" in stderr.splitlines()[-1], stderr
    for mention in mentions:
        assert mention.lower() in stderr.lower(), f"{args}: {mention!r} not in {stderr!r}"
    assert result.stdout == b"", result.stdout
    assert _store(home) == before, f"{args} changed the store"
    return stderr


# --- job files and nodes.toml ------------------------------------------------------------------------------

BAD_JOB_FILES = {
    "toml-syntax": ('command = "echo\npriority = 1\n', ["TOML syntax error", "line 1"]),
    "unknown-field": ('command = "true"\nretrry = 3\n', ["retrry", "unknown field", "did you mean 'retry'"]),
    "unknown-nested-field": ('command = "true"\n[retry]\nmax_atempts = 3\n', ["retry.max_atempts", "max_attempts"]),
    "wrong-type": ('command = "true"\npriority = "high"\n', ["priority", "integer", "'high'"]),
    "bool-for-int": ('command = "true"\npriority = true\n', ["priority", "integer"]),
    "bad-duration": ('command = "true"\ntimeout = "5 parsecs"\n', ["timeout", "5 parsecs", '"30s"']),
    "nan-duration": ('command = "true"\ntimeout = nan\n', ["timeout", "out of range", "366 days"]),
    "six-field-cron": ('command = "true"\nschedule = "0 30 2 * * *"\n', ["schedule", "6 fields", "five fields"]),
    "list-param": ('command = "true"\n[params]\nwho = [1, 2]\n', ["params.who", "a string, a number"]),
    "missing-command": ('description = "no command"\n', ["command", "required field is missing"]),
}


@pytest.mark.parametrize("case", BAD_JOB_FILES, ids=str)
async def test_a_bad_job_file_is_refused_naming_the_file_and_field(sluice: SluiceHome, case: str) -> None:
    body, mentions = BAD_JOB_FILES[case]
    path = sluice.home.jobs_dir / "broken.toml"
    path.write_text(body, encoding="utf-8")
    await _refused(sluice, ["submit", "broken"], str(path), *mentions)
    # Any command that reads the definitions says the same thing, even about another job.
    await _refused(sluice, ["submit", "hello"], str(path), *mentions)


BAD_NODES = {
    "port-out-of-range": ('[[node]]\nname = "n1"\nhost = "h"\nport = 70000\n', ["node.0.port", "65535", "70000"]),
    "missing-host": ('[[node]]\nname = "n1"\n', ["node.0.host", "required field is missing"]),
    "string-port": ('[[node]]\nname = "n1"\nhost = "h"\nport = "22"\n', ["node.0.port", "integer"]),
    "not-a-list": ('[node]\nname = "n1"\nhost = "h"\n', ["node", "list"]),
}


@pytest.mark.parametrize("case", BAD_NODES, ids=str)
async def test_a_bad_nodes_file_is_refused_naming_the_field(sluice: SluiceHome, case: str) -> None:
    body, mentions = BAD_NODES[case]
    sluice.home.nodes_file.write_text(body, encoding="utf-8")
    await _refused(sluice, ["nodes"], str(sluice.home.nodes_file), *mentions)
    await _refused(sluice, ["drain", "n1"], str(sluice.home.nodes_file), *mentions)


async def test_a_bad_queues_file_is_refused_and_the_cli_exits(sluice: SluiceHome) -> None:
    sluice.home.queues_file.write_text('[[queue]]\nname = "etl"\nmax_running = 0\n', encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "console.main", "runs", "--home", str(sluice.home.root),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), 5)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError("sluice runs hung on a bad queues.toml") from None
    assert process.returncode == 2
    assert "queue.0.max_running" in stderr.decode() and "Traceback" not in stderr.decode()


# --- arguments ---------------------------------------------------------------------------------------------

async def test_submit_refuses_unknown_jobs_params_and_malformed_arguments(sluice: SluiceHome) -> None:
    await _refused(sluice, ["submit", "nope"], "'nope'", "not defined", str(sluice.home.jobs_dir), "hello")
    await _refused(sluice, ["submit", "hello", "-p", "nope=1"], "unknown param nope", "its params: who")
    await _refused(sluice, ["submit", "hello", "-p", "nope"], "-p 'nope'", "NAME=VALUE")
    await _refused(sluice, ["submit", "hello", "--priority", "9" * 30], "--priority", "1000000")
    await _refused(sluice, ["submit", "hello", "--priority", "high"], "--priority", "whole number")
    await _refused(sluice, ["submit", "hello", "--queue", "etl;rm -rf"], "--queue", "letters, digits")


async def test_params_file_with_a_bad_line_is_refused_naming_the_line(sluice: SluiceHome, tmp_path: Path) -> None:
    params = tmp_path / "params.jsonl"
    params.write_text('{"who": "a"}\n{"who": "b"}\nwho=c\n', encoding="utf-8")
    await _refused(sluice, ["submit", "hello", "--params-file", str(params)], f"{params}:3", "not JSON")
    params.write_text('{"who": "a"}\n{"who": "b"}\n{"nope": "c"}\n', encoding="utf-8")
    await _refused(sluice, ["submit", "hello", "--params-file", str(params)], "line 3", "unknown param nope")
    params.write_text('{"who": "a"}\n["who", "b"]\n', encoding="utf-8")
    await _refused(sluice, ["submit", "hello", "--params-file", str(params)], f"{params}:2", "JSON object")
    await _refused(sluice, ["submit", "hello", "--params-file", str(tmp_path / "missing.jsonl")],
                   "missing.jsonl", "cannot read")


async def test_unknown_nodes_queues_and_statuses_are_refused(sluice: SluiceHome) -> None:
    await _refused(sluice, ["drain", "zz"], "'zz'", str(sluice.home.nodes_file))
    await _refused(sluice, ["pause", "zz"], "queue 'zz'", "does not exist", "default")
    await _refused(sluice, ["runs", "--status", "bogus"], "--status 'bogus'", "queued", "timed_out")
    await _refused(sluice, ["runs", "--limit", "0"], "--limit", "at least 1")


async def test_a_bad_reason_is_refused_naming_the_option(sluice: SluiceHome) -> None:
    await _refused(sluice, ["cancel", "1", "--reason", "   "], "--reason", "empty")
    await _refused(sluice, ["cancel", "1", "--reason", "first line\nsecond line"], "--reason", "one line")
    await _refused(sluice, ["cancel", "1", "--reason", "bell\x07"], "--reason", "one line")
    await _refused(sluice, ["cancel", "1", "--reason", "x" * 1001], "--reason", "at most 1000")
    # Every destructive command checks its reason the same way.
    for command in (["retry", "1"], ["drain", "n1"], ["pause", "default"], ["backfill-cancel", "1"]):
        await _refused(sluice, [*command, "--reason", ""], "--reason", "empty")


async def test_show_refuses_a_missing_or_malformed_run_id(sluice: SluiceHome) -> None:
    await _refused(sluice, ["show", "999999"], "run 999999", "does not exist")
    await _refused(sluice, ["show", "abc"], "argument run", "'abc'", "run id")
    await _refused(sluice, ["show", "9" * 30], "argument run", "run id")
    await _refused(sluice, ["wait", "1", "--timeout", "nan"], "--timeout", "seconds")


async def test_backfill_refuses_bad_jobs_ranges_and_dates(sluice: SluiceHome) -> None:
    await _refused(sluice, ["backfill", "hello", "--from", "2024-01-01", "--to", "2024-01-02"],
                   "hello", "no [partition] table")
    await _refused(sluice, ["backfill", "daily", "--from", "2024-02-01", "--to", "2024-01-01"],
                   "--from 2024-02-01", "is after", "--to 2024-01-01")
    await _refused(sluice, ["backfill", "daily", "--from", "2024-13-01", "--to", "2024-12-31"],
                   "--from", "2024-13-01", "YYYY-MM-DD")
    await _refused(sluice, ["backfill", "daily", "--from", "1800-01-01", "--to", "2099-12-31"],
                   "would create", "daily partitions", "cap of 50,000")
    await _refused(sluice, ["backfill", "daily", "--from", "2024-01-01"], "--from and --to")


# --- fuzzing the loaders -----------------------------------------------------------------------------------

PARAM_NAMES = st.sampled_from(["who", "day", "n", "1a", "a-b", ""]) | st.text(max_size=5)


VALID_DURATIONS = (st.sampled_from(["30s", "15m", "1h30m", "2d", "10ms", "1.5h", "1h 30m", "366d", "0s"])
                   | st.integers(0, 86_400) | st.floats(0, 86_400))
PLAIN_VALUES = st.text(max_size=12) | st.integers(-(10**9), 10**9) | st.floats(allow_nan=False) | st.booleans()
VALID_FIELDS = {
    "name": st.sampled_from(["daily", "a.b-c", "x", "Job_2"]),
    "description": st.text(max_size=20),
    "params": st.dictionaries(st.sampled_from(["who", "n", "day"]), PLAIN_VALUES, max_size=3),
    "queue": st.sampled_from(["default", "etl", "q.1"]),
    "priority": st.integers(-(10**6), 10**6),
    "timeout": VALID_DURATIONS,
    "workdir": st.sampled_from(["/tmp", "~/work", "rel dir"]),
    "env": st.dictionaries(st.sampled_from(["A", "B_2", "_C"]), st.text(max_size=6), max_size=3),
    "labels": st.lists(st.text(max_size=4), max_size=3),
    "retry": st.fixed_dictionaries({}, optional={
        "max_attempts": st.integers(1, 1000), "backoff": VALID_DURATIONS, "max_backoff": VALID_DURATIONS,
        "on_exit_codes": st.lists(st.integers(1, 255), max_size=3), "node_lost_consumes_attempt": st.booleans(),
    }),
    "partition": st.fixed_dictionaries({"param": st.just("day"), "kind": st.sampled_from(["daily", "hourly", "monthly"])})
    | st.fixed_dictionaries({"param": st.just("day"), "kind": st.just("list"),
                             "values": st.lists(st.text(min_size=1, max_size=4), min_size=1, max_size=3)}),
    "schedule": st.sampled_from(["0 2 * * *", "*/15 * * * *", "@daily", "0 0 L * *", "0 0 * * MON#1", "30 1 1,15 * *"]),
    "timezone": st.sampled_from(["UTC", "Europe/Paris", "America/New_York"]),
    "catchup": st.booleans(),
    "after": st.lists(st.sampled_from(["hello", "daily"]), max_size=2),
    "kill_grace": VALID_DURATIONS,
    "checkpoint_exit_code": st.integers(1, 255),
}
WILD_FIELDS = {
    "name": NAMES | ANY_VALUE,
    "description": ANY_VALUE,
    "command": st.sampled_from(["", "x" * 100_001]) | ANY_VALUE,
    "params": st.dictionaries(PARAM_NAMES, ANY_VALUE, max_size=3) | ANY_VALUE,
    "queue": NAMES | ANY_VALUE,
    "priority": INTS | ANY_VALUE,
    "timeout": DURATIONS | ANY_VALUE,
    "workdir": ANY_VALUE,
    "env": st.dictionaries(st.sampled_from(["1X", "", "A B"]) | st.text(max_size=4), ANY_VALUE, max_size=3),
    "labels": ANY_VALUE,
    "retry": st.fixed_dictionaries({}, optional={
        "max_attempts": INTS | ANY_VALUE, "backoff": DURATIONS, "max_backoff": DURATIONS | ANY_VALUE,
        "on_exit_codes": st.lists(INTS, max_size=3) | ANY_VALUE, "node_lost_consumes_attempt": ANY_VALUE,
        "retrry": ANY_VALUE,
    }) | ANY_VALUE,
    "partition": st.fixed_dictionaries({}, optional={
        "param": PARAM_NAMES, "kind": st.sampled_from(["daily", "list", "weekly"]) | ANY_VALUE,
        "values": st.lists(st.text(max_size=4), max_size=3) | ANY_VALUE,
    }) | ANY_VALUE,
    "schedule": CRON | ANY_VALUE,
    "timezone": st.sampled_from(["", "Nope/Zone", "../etc/passwd", "a\x00b", "/etc/localtime", "Etc/GMT+99"])
    | st.text(max_size=10) | ANY_VALUE,
    "catchup": ANY_VALUE,
    "after": st.lists(NAMES, max_size=2) | ANY_VALUE,
    "kill_grace": DURATIONS | ANY_VALUE,
    "checkpoint_exit_code": INTS | ANY_VALUE,
    "retrry": ANY_VALUE,
}


@st.composite
def job_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid job document with up to three fields replaced by anything at all."""
    document = draw(st.fixed_dictionaries(
        {"command": st.sampled_from(["echo {who}", "true", "sleep {n}; echo ${HOME}"])}, optional=VALID_FIELDS))
    for field in draw(st.lists(st.sampled_from(sorted(WILD_FIELDS)), max_size=3, unique=True)):
        document[field] = draw(WILD_FIELDS[field])
    return document


def _check_loaded(path: Path) -> None:
    """The loader's contract: a valid definition whose snapshot round-trips, or a ConfigError; nothing else."""
    try:
        job = load_job_file(path)
    except ConfigError as error:
        assert str(path) in str(error)
        return
    snapshot = json.loads(json.dumps(job.model_dump(mode="json"), allow_nan=False))
    assert JobDefinition.model_validate(snapshot) == job
    try:
        params = resolve_params(job, {})
        partition_of(job, params)
    except UsageError:
        return
    render_command(job.command, params)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=job_documents())
def test_the_job_loader_returns_a_definition_or_a_config_error(
    tmp_path_factory: pytest.TempPathFactory, document: dict[str, Any]
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "job.toml"
    path.write_text(toml_document(document), encoding="utf-8")
    _check_loaded(path)


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=80) | st.binary(max_size=40).map(lambda raw: raw.decode("latin-1")),
       seed=st.sampled_from([HELLO, DAILY, 'command = "true"\n[retry]\nbackoff = "1s"\n']))
def test_the_job_loader_survives_arbitrary_text(
    tmp_path_factory: pytest.TempPathFactory, text: str, seed: str
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    for name, body in (("raw.toml", text), ("spliced.toml", seed + text)):
        (folder / name).write_text(body, encoding="utf-8")
        _check_loaded(folder / name)
    (folder / "bytes.toml").write_bytes(text.encode("utf-8", "surrogatepass")[:40] + b"\xff\xfe")
    _check_loaded(folder / "bytes.toml")


@settings(max_examples=500, deadline=None)
@given(value=DURATIONS | st.text(max_size=20) | st.integers() | st.none() | st.lists(st.integers(), max_size=1))
def test_parse_duration_returns_seconds_in_range_or_a_value_error(value: Any) -> None:
    try:
        seconds = parse_duration(value)
    except ValueError as error:
        assert str(error)
        return
    assert isinstance(seconds, float) and 0 <= seconds <= MAX_SECONDS


@given(hours=st.integers(0, 24 * 366), minutes=st.integers(0, 59), seconds=st.integers(0, 59))
def test_parse_duration_adds_up_compound_units(hours: int, minutes: int, seconds: int) -> None:
    expected = hours * 3600 + minutes * 60 + seconds
    text = f"{hours}h{minutes}m{seconds}s"
    if expected > MAX_SECONDS:
        with pytest.raises(ValueError, match="out of range"):
            parse_duration(text)
    else:
        assert parse_duration(text) == expected
        assert parse_duration(f" {hours}h {minutes}m {seconds}s ") == expected


@settings(max_examples=300, deadline=None)
@example(text="0\x1f")  # str.strip() dropped the control character for options only
@given(text=DURATIONS.map(str) | st.text(max_size=20) | st.floats(0, 10**8).map(str))
def test_a_duration_option_means_what_a_job_file_means_or_bare_seconds(text: str) -> None:
    try:
        seconds = parse_duration_option(text)
    except ValueError as error:
        assert str(error)
        return
    assert 0 <= seconds <= MAX_SECONDS
    try:
        assert seconds == parse_duration(text)
    except ValueError:
        assert seconds == float(text)


# --- duration options --------------------------------------------------------------------------------------

#: Every duration option of the CLI, with the arguments before its value.
DURATION_OPTIONS = {
    "--timeout": ["wait", "1", "--timeout"],
    "--deadline": ["drain", "n1", "--deadline"],
    "--poll-interval": ["scheduler", "--poll-interval"],
    "--node-lost-after": ["scheduler", "--node-lost-after"],
    "--retention": ["scheduler", "--retention"],
}


@pytest.mark.parametrize("option", DURATION_OPTIONS)
async def test_a_bad_duration_option_is_refused_naming_the_option_and_the_forms(
    sluice: SluiceHome, option: str
) -> None:
    for value in ("5 parsecs", "nan", "-1", ""):
        await _refused(sluice, [*DURATION_OPTIONS[option], value], option, f"{value!r}", '"15m"', "seconds")
    await _refused(sluice, [*DURATION_OPTIONS[option], "400d"], option, "out of range", "366 days")


async def test_intervals_of_the_scheduler_must_be_above_zero(sluice: SluiceHome) -> None:
    for option in ("--poll-interval", "--node-lost-after"):
        await _refused(sluice, ["scheduler", option, "0s"], option, "above 0")


async def _scheduler_banner(home: SluiceHome, *args: str) -> str:
    """Start `sluice scheduler` with args, return the line it starts with, stop it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "console.main", "scheduler", "--home", str(home.home.root), *args,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    try:
        line = (await asyncio.wait_for(process.stderr.readline(), 30)).decode()
    finally:
        process.send_signal(signal.SIGTERM)
        rest = (await asyncio.wait_for(process.stderr.read(), 30)).decode()
        await process.wait()
    assert line.startswith("sluice scheduler: home"), line + rest
    return line


async def test_duration_options_take_the_job_file_forms_and_bare_seconds(sluice: SluiceHome) -> None:
    # Without a scheduler the queued run never ends, so both forms run out (exit 3).
    for value in ("0.2", "200ms"):
        assert (await sluice.cli("wait", "1", "--timeout", value)).code == 3, value
    for value in ("600", "10m"):
        result = await sluice.cli("drain", "n1", "--deadline", value)
        assert result.code == 0, result.stderr
    drains = (await sluice.cli_json("events", "--kind", "drain"))["events"]
    preempt_in = [(from_iso(e["detail"].split("preempted at ")[1]) - from_iso(e["at"])).total_seconds()
                  for e in drains]
    assert [round(seconds) for seconds in preempt_in] == [600, 600]
    banner = await _scheduler_banner(sluice, "--poll-interval", "250ms", "--node-lost-after", "2m",
                                     "--retention", "7200")
    assert "polls every 250ms, nodes lost after 2m, attempt folders kept 2h" in banner, banner
    banner = await _scheduler_banner(sluice, "--poll-interval", "0.5", "--node-lost-after", "90",
                                     "--retention", "1h30m")
    assert "polls every 500ms, nodes lost after 1m30s, attempt folders kept 1h30m" in banner, banner
