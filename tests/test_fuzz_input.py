"""Bad input, fuzzed, beyond the job loader: nodes.toml and queues.toml, cron expressions and time zones,
partition ranges of every kind, and every argument of every CLI command run in-process on a home with runs.

The contract everywhere: a value, or an operator error (exit 2) that names the file, field or argument and
changes nothing in the store; never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sqlite3
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fuzzing import ANY_VALUE, CRON, DURATIONS, INTS, NAMES, toml_document
from harness import SluiceHome
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from console.cli.parser import build_parser
from console.demo.localnode import LocalFleet
from console.main import main
from scheduler.config import JobDefinition, load_nodes, load_queues
from scheduler.cron import due_ticks, validate_cron, validate_timezone
from scheduler.errors import ConfigError, UsageError
from scheduler.partitions import KINDS, partition_range, validate_key

# Function-scoped fixtures are shared by every example of a hypothesis test; ours are read-only or
# module-scoped, so the health check has nothing to protect here.
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def fuzz(examples: int) -> settings:
    """FUZZ with a number of examples sized so the whole module runs in well under a minute."""
    return settings(FUZZ, max_examples=examples)


# --- nodes.toml and queues.toml ----------------------------------------------------------------------------

REQUIRED_NODE = {"host": st.sampled_from(["127.0.0.1", "etl-01.internal", "::1"])}
VALID_NODE = {
    "port": st.integers(1, 65535),
    "user": st.sampled_from(["batch", "root"]),
    "slots": st.integers(1, 1024),
    "labels": st.lists(st.text(max_size=4), max_size=3),
    "workdir": st.sampled_from(["~/.sluice", "/tmp/sluice"]),
    "lost_after": st.sampled_from(["10m", 600, "1h"]),
    "quarantine_after": st.integers(1, 1000),
}
WILD_NODE = {
    "name": NAMES | ANY_VALUE,
    "host": st.sampled_from(["", "a\nb", "h" * 256]) | ANY_VALUE,
    "port": INTS | ANY_VALUE,
    "user": st.sampled_from(["", "u" * 65]) | ANY_VALUE,
    "identity_file": ANY_VALUE,
    "known_hosts": ANY_VALUE,
    "slots": INTS | ANY_VALUE,
    "labels": ANY_VALUE,
    "workdir": st.sampled_from(["", "a\tb"]) | ANY_VALUE,
    "lost_after": DURATIONS | ANY_VALUE,
    "quarantine_after": INTS | ANY_VALUE,
    "prot": ANY_VALUE,
}
VALID_QUEUE = {"priority": st.integers(-(10**6), 10**6), "max_running": st.integers(1, 10**6)}
WILD_QUEUE = {"name": NAMES | ANY_VALUE, "priority": INTS | ANY_VALUE, "max_running": INTS | ANY_VALUE,
              "max_runing": ANY_VALUE}


@st.composite
def config_documents(draw: st.DrawFn, table: str, required: dict[str, Any], valid: dict[str, Any],
                     wild: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """A valid nodes.toml or queues.toml document with a few values replaced by anything, and their paths."""
    count = draw(st.integers(0, 3))
    # Valid names no fuzzed text will repeat, so a duplicate name always involves an injected one.
    entries = [{"name": f"valid-{table}-{index}", **draw(st.fixed_dictionaries(required, optional=valid))}
               for index in range(count)]
    injected: set[str] = set()
    for index, entry in enumerate(entries):
        for field in draw(st.lists(st.sampled_from(sorted(wild)), max_size=2, unique=True)):
            entry[field] = draw(wild[field])
            injected.add(f"{table}.{index}.{field}")
    document: dict[str, Any] = {table: entries}
    if draw(st.integers(0, 9)) == 0:
        document[table] = draw(ANY_VALUE)
        injected = {table}
    if draw(st.integers(0, 9)) == 0:
        document["extra"] = draw(ANY_VALUE)
        injected.add("extra")
    return document, injected


def _names_an_injected_path(message: str, injected: set[str]) -> bool:
    """Whether the message reports a problem at an injected path or inside it (node.0.labels.1)."""
    return any(f"{path}: " in message or f"{path}." in message for path in injected)


def _check_config_file(load: Any, path: Path, injected: set[str]) -> None:
    """The loaders' contract: a valid config, or a ConfigError naming the file and the faulty field path."""
    try:
        load(path)
    except ConfigError as error:
        message = str(error)
        assert message.startswith(f"{path}: "), message
        assert _names_an_injected_path(message, injected), f"{message!r} names none of {sorted(injected)}"
        return
    assert not {"extra"} & injected, "an unknown top-level field was accepted"


@fuzz(200)
@given(case=config_documents("node", REQUIRED_NODE, VALID_NODE, WILD_NODE))
@example(case=({"node": [{"name": "x", "host": "h"}, {"name": "x", "host": "h"}]}, {"node.0.name", "node.1.name"}))
def test_the_nodes_loader_returns_nodes_or_a_config_error_naming_the_field(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[dict[str, Any], set[str]]
) -> None:
    document, injected = case
    path = tmp_path_factory.mktemp("nodes") / "nodes.toml"
    path.write_text(toml_document(document), encoding="utf-8")
    _check_config_file(load_nodes, path, injected)


@fuzz(150)
@given(case=config_documents("queue", {}, VALID_QUEUE, WILD_QUEUE))
@example(case=({"queue": [{"name": "etl"}, {"name": "etl", "max_running": 2}]}, {"queue.0.name", "queue.1.name"}))
def test_the_queues_loader_returns_queues_or_a_config_error_naming_the_field(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[dict[str, Any], set[str]]
) -> None:
    document, injected = case
    path = tmp_path_factory.mktemp("queues") / "queues.toml"
    path.write_text(toml_document(document), encoding="utf-8")
    _check_config_file(load_queues, path, injected)


@fuzz(100)
@given(raw=st.binary(max_size=60) | st.text(max_size=60).map(str.encode),
       seed=st.sampled_from(['[[node]]\nname = "n1"\nhost = "h"\n', '[[queue]]\nname = "etl"\n']))
def test_the_config_loaders_survive_arbitrary_bytes(
    tmp_path_factory: pytest.TempPathFactory, raw: bytes, seed: str
) -> None:
    folder = tmp_path_factory.mktemp("raw")
    for name, body in (("raw.toml", raw), ("spliced.toml", seed.encode() + raw)):
        for load in (load_nodes, load_queues):
            (folder / name).write_bytes(body)
            try:
                load(folder / name)
            except ConfigError as error:
                assert str(error).startswith(f"{folder / name}: "), error


def test_a_queue_declared_twice_is_refused_naming_both_tables(tmp_path: Path) -> None:
    # Found by the queues fuzz: the second [[queue]] silently replaced the first.
    path = tmp_path / "queues.toml"
    path.write_text('[[queue]]\nname = "etl"\n[[queue]]\nname = "etl"\nmax_running = 2\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"queue\.1\.name: queue name 'etl' is already used by queue\.0"):
        load_queues(path)


# --- cron expressions and time zones -----------------------------------------------------------------------

CRON_NUMBERS = st.integers(-5, 100) | st.integers(0, 10**20)
CRON_PART = (st.sampled_from(["*", "?", "L", "W", "LW", "15W", "5L", "MON", "jan", "SUN-SAT", "MON#1", "5#6", "H"])
             | CRON_NUMBERS.map(str)
             | st.tuples(CRON_NUMBERS, CRON_NUMBERS).map(lambda pair: f"{pair[0]}-{pair[1]}")
             | st.tuples(st.sampled_from(["*", "0", "1-5"]), CRON_NUMBERS).map(lambda pair: f"{pair[0]}/{pair[1]}"))
CRON_FIELD = st.lists(CRON_PART, min_size=1, max_size=3).map(",".join)
CRON_EXPRESSIONS = (CRON | st.lists(CRON_FIELD, min_size=4, max_size=6).map(" ".join)
                    | st.sampled_from(["@yearly", "@ANNUALLY", " @daily ", "@every 5m", "0\u00a00 * * *"]))
ZONES = (st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe",
                          "", ".", "..", "/", "Europe", "Europe/", "America", "a" * 300, "Europe/../UTC",
                          "/etc/localtime", "zone.tab", "tzdata.zi", "posixrules", "Etc/GMT+99", "\x00", "\udcff"])
         | st.text(max_size=12))
MOMENTS = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC))


@fuzz(200)
@given(expression=CRON_EXPRESSIONS)
def test_validate_cron_accepts_or_refuses_with_a_message_naming_the_schedule(expression: str) -> None:
    try:
        validate_cron(expression)
    except UsageError as error:
        assert str(error).startswith(f"schedule {expression!r}"), error
        return
    # A valid expression must also be one the scheduler can evaluate.
    assert len(due_ticks(expression, "UTC", None, datetime(2030, 1, 1, tzinfo=UTC), catchup=False)) <= 1


@fuzz(200)
@given(name=ZONES)
@example(name="Europe")  # a folder of the tz database: was IsADirectoryError
@example(name="a" * 300)  # was OSError: file name too long
def test_validate_timezone_returns_a_zone_or_a_usage_error_naming_it(name: str) -> None:
    try:
        zone = validate_timezone(name)
    except UsageError as error:
        assert str(error).startswith(f"timezone {name!r}"), error
        return
    assert datetime(2024, 6, 1, tzinfo=zone).utcoffset() is not None


@fuzz(100)
@given(expression=CRON_EXPRESSIONS, zone=ZONES, last=st.none() | MOMENTS, now=MOMENTS, catchup=st.booleans())
def test_due_ticks_returns_ticks_or_a_usage_error(
    expression: str, zone: str, last: datetime | None, now: datetime, catchup: bool
) -> None:
    try:
        ticks = due_ticks(expression, zone, last, now, catchup, limit=50)
    except UsageError as error:
        assert str(error).startswith(("schedule ", "timezone ")), error
        return
    assert all((last is None or last < tick) and tick <= now for tick in ticks)
    assert len(ticks) <= 50


@fuzz(100)
@given(schedule=CRON_EXPRESSIONS, timezone=ZONES)
def test_the_job_loader_names_a_bad_schedule_or_timezone(schedule: str, timezone: str) -> None:
    """The same values through a job definition: a job, or a validation error under its own field name."""
    try:
        JobDefinition.model_validate({"name": "j", "command": "true", "schedule": schedule, "timezone": timezone})
    except ValueError as error:  # pydantic's ValidationError is a ValueError
        fields = {str(problem["loc"][0]) for problem in error.errors()}  # type: ignore[attr-defined]
        assert fields <= {"schedule", "timezone"} and fields, error


# --- partition ranges --------------------------------------------------------------------------------------

NUMBER_TEXT = st.integers(-1, 10_001).map(str) | st.integers(0, 99).map(lambda n: f"{n:02d}")
KEYS = (
    st.tuples(NUMBER_TEXT, NUMBER_TEXT, NUMBER_TEXT, NUMBER_TEXT, st.sampled_from(["T", "t", " ", "", "x"]))
    .map(lambda parts: f"{parts[0]}-{parts[1]}-{parts[2]}{parts[4]}{parts[3]}")
    | st.tuples(NUMBER_TEXT, NUMBER_TEXT).map("-".join)
    | st.tuples(NUMBER_TEXT, NUMBER_TEXT, NUMBER_TEXT).map("-".join)
    | st.sampled_from(["2024-01-01", "2024-02-29", "2023-02-29", "2024-01-01T00", "2024-12-31T23", "2024-01",
                       "2024-12", "0001-01-01", "9999-12-31", "9999-12-31T23", "9999-12", "0000-01", "",
                       " 2024-01-01 ", "٢٠٢٤-٠١-٠١", "2024-01-01T24", "2024-13", "2024-01-01T00:00"])
    | st.text(max_size=14)
)


@fuzz(200)
@given(kind=st.sampled_from(KINDS), start=KEYS, end=KEYS, cap=st.integers(1, 2000))
def test_a_partition_range_is_a_plan_or_an_error_naming_the_argument(kind: str, start: str, end: str, cap: int
                                                                     ) -> None:
    try:
        keys = partition_range(kind, start, end, cap)
    except UsageError as error:
        message = str(error)
        assert "--from" in message or "--to" in message, message
        return
    assert 1 <= len(keys) <= cap
    assert keys[0] == validate_key(kind, start) and keys[-1] == validate_key(kind, end)
    assert keys == sorted(set(keys))


# --- the CLI, in-process -----------------------------------------------------------------------------------

#: Exit codes the CLI documents: 0 ok, 1 some runs did not succeed or an action was refused, 2 bad input,
#: 3 `wait --timeout` ran out, 75 the store was busy (EX_TEMPFAIL, scheduler/errors.py StoreBusy).
EXIT_CODES = {0, 1, 2, 3, 75}
#: Commands that run until stopped (scheduler, console, demo): only their arguments are parsed, not run.
PARSE_ONLY = {"scheduler", "console", "demo"}

PARTITIONED = 'command = "echo {day}"\nmax_partitions = 40\n[partition]\nparam = "day"\n'
JOBS = {
    "hello": 'command = "echo hello {who}"\n[params]\nwho = "world"\n',
    "fails": 'command = "echo oops >&2; exit 3"\n',
    "daily": PARTITIONED + 'kind = "daily"\n',
    "hourly": PARTITIONED + 'kind = "hourly"\n',
    "monthly": PARTITIONED + 'kind = "monthly"\n',
    "listed": PARTITIONED + 'kind = "list"\nvalues = ["eu", "us", "ap"]\n',
}


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: bytes
    stderr: str


async def _seed(home: SluiceHome, keys: Path) -> None:
    """Runs that ended on a real (in-process SSH) node, with output; then queued runs and a backfill."""
    async with LocalFleet(keys) as fleet:
        await fleet.start_node("n1")
        home.home.nodes_file.write_text(fleet.nodes_toml(), encoding="utf-8")
        async with await home.engine() as engine:
            for job, params in (("hello", {"who": "a"}), ("fails", {}), ("listed", {"day": "eu"})):
                await engine.submit(job, params)
        await home.run_until_idle()
    async with await home.engine() as engine:
        await engine.submit("hello", {"who": "queued"})
        plan = await engine.plan_backfill("daily", range_from="2024-01-01", range_to="2024-01-03")
        await engine.create_backfill(plan)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceHome]:
    """One home for every CLI example; the working folder is a scratch folder for relative paths."""
    root = tmp_path_factory.mktemp("cli")
    home = SluiceHome(root, "")
    for name, body in JOBS.items():
        home.add_job(name, body)
    asyncio.run(_seed(home, root / "keys"))
    scratch = root / "cwd"
    scratch.mkdir()
    (scratch / "good.jsonl").write_text('{"who": "file"}\n', encoding="utf-8")
    (scratch / "bad.jsonl").write_text('{"who": "a"}\nnot json\n', encoding="utf-8")
    previous = Path.cwd()
    os.chdir(scratch)  # fuzzed --jobs and --params-file values are relative to it
    try:
        yield home
    finally:
        os.chdir(previous)


def run_cli(argv: list[str]) -> Outcome:
    """The real CLI's main(argv) in this process; stdout is strict UTF-8 like a pipe, stderr as Python's."""
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    stderr = io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse exits; main() itself returns
            code = exit_.code if isinstance(exit_.code, int) else 1
    stdout.flush()
    return Outcome(code, stdout.buffer.getvalue(), stderr.getvalue())  # type: ignore[attr-defined]


def parse_only(argv: list[str]) -> Outcome:
    """argparse alone, for commands that would not return: exit 0 if the arguments parse."""
    stderr = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(stderr):
        try:
            build_parser().parse_args(argv)
        except SystemExit as exit_:
            return Outcome(exit_.code if isinstance(exit_.code, int) else 1, b"", stderr.getvalue())
    return Outcome(0, b"", "")


def dump_store(home: SluiceHome) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, found from the schema so a new table is compared too."""
    conn = sqlite3.connect(f"file:{home.home.db_path}?mode=ro", uri=True)
    try:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall() for table in tables}
    finally:
        conn.close()


def subcommands() -> dict[str, argparse.ArgumentParser]:
    """Every subcommand of the real parser, so a new command is fuzzed without touching this file."""
    parser = build_parser()
    # argparse has no public accessor for its subparsers; _actions is the documented-by-use way in.
    group = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return dict(group.choices)


def arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The fuzzable arguments of one subcommand: all but -h and --home (the home is always the seeded one)."""
    return [action for action in parser._actions
            if not isinstance(action, argparse._HelpAction) and action.dest != "home"]


HOSTILE = st.sampled_from([
    "", " ", "-", "--", "-1", "-0", "0", "00", "+1", "1.5", "1e3", "0x10", "nan", "inf", "-inf", "9" * 30,
    "9" * 5000, "x" * 10_000, "-x", "--json", "--home", "-p", "2024-13-01", "2024-02-30", "0000-01-01",
    "9999-12-31", "10000-01-01", "2024-01-01T24", "2024-00", "٢٠٢٤-٠١-٠١", "5 parsecs", "1h30", "400d", "-1s",
    "1e5s", "=", "who=", "=x", "who=\udcff", "a=b=c", "\t", "\n", "a\nb", "\x1b[31m", "é", "日本", "\u202e",
    "\udcff\udcfe", "~", "~nosuchuser", "~nosuchuser/x", "..", "/", "/etc/passwd", "'", '"', "$(touch x)", ";",
    "%s", "{who}", ",", ",,", " , ",
])
# Real argv cannot hold NUL; undecodable bytes reach Python as surrogate escapes, like "\udcff".
TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=20)
UNDECODABLE = st.binary(min_size=1, max_size=8).filter(lambda raw: b"\x00" not in raw).map(
    lambda raw: raw.decode("utf-8", "surrogateescape"))
ANY_ARGUMENT = HOSTILE | TEXT | UNDECODABLE | st.integers(-(2**70), 2**70).map(str)
#: Values that get a command past its first check, so the later checks are fuzzed too.
PLAUSIBLE = {
    "job": st.sampled_from(sorted(JOBS)), "run": st.integers(1, 9).map(str), "runs": st.integers(1, 9).map(str),
    "backfill": st.sampled_from(["1", "2"]), "node": st.just("n1"), "queue": st.just("default"),
    "param": st.sampled_from(["who=x", "day=2024-01-01", "n=1"]), "status": st.sampled_from(["queued", "failed"]),
    "range_from": KEYS, "range_to": KEYS, "values": st.sampled_from(["eu", "eu,us", "zz", ",", ",,", " , "]),
    "params_file": st.sampled_from(["good.jsonl", "bad.jsonl", "missing.jsonl", "."]),
    "timeout": DURATIONS.map(str), "deadline": DURATIONS.map(str), "priority": st.integers(-10, 10).map(str),
}


def value_for(action: argparse.Action) -> st.SearchStrategy[str]:
    plausible = PLAUSIBLE.get(action.dest)
    return ANY_ARGUMENT if plausible is None else plausible | ANY_ARGUMENT


@st.composite
def argvs(draw: st.DrawFn, command: str) -> list[str]:
    """An argument list for `command`: fuzzed positionals (sometimes missing) and a few fuzzed options."""
    actions = arguments(subcommands()[command])
    words: list[str] = []
    for action in (action for action in actions if not action.option_strings):
        count = draw(st.integers(0 if draw(st.integers(0, 9)) == 0 else 1, 1 if action.nargs is None else 3))
        words += [draw(value_for(action)) for _ in range(count)]
    options = [action for action in actions if action.option_strings]
    for action in draw(st.lists(st.sampled_from(options), max_size=4)) if options else []:
        words.append(draw(st.sampled_from(action.option_strings)))
        if action.nargs != 0:
            words.append(draw(value_for(action)))
    # Options before, between or after the positionals: argparse must cope with any order.
    return [command, *(draw(st.permutations(words)) if draw(st.booleans()) else words)]


def _returns(command: str, argv: list[str]) -> list[str]:
    """Arguments that make a waiting command return: the last --timeout wins, so a fuzzed bad one still fails."""
    return [*argv, "--timeout", "0"] if command == "wait" else argv


def _error_message(stderr: str) -> str:
    """The text after 'error: ' (argparse prints a usage line before it; a fuzzed path may hold newlines)."""
    assert "error: " in stderr, f"no error line in {stderr!r}"
    return stderr.split("error: ", 1)[1]


def _names_what_is_wrong(message: str, argv: list[str], parser: argparse.ArgumentParser, home: SluiceHome
                         ) -> bool:
    """Whether an exit-2 message names an argument (its option, its name or its value) or a file."""
    names = {option for action in parser._actions for option in action.option_strings}
    names |= {name for action in parser._actions if not action.option_strings
              for name in (action.dest.rstrip("s"), action.metavar) if name}
    values = {repr(word) for word in argv} | {word for word in argv if len(word.strip()) >= 3}
    return any(name in message for name in names | values | {str(home.home.root), "COMMAND"})


def check_cli(home: SluiceHome, command: str, argv: list[str]) -> None:
    """The CLI's contract for one argument list."""
    before = dump_store(home)
    outcome = parse_only(argv) if command in PARSE_ONLY else run_cli(argv)
    event(f"exit {outcome.code}")  # --hypothesis-show-statistics: how often the fuzz gets past the checks
    assert outcome.code in EXIT_CODES, f"{argv}: exit {outcome.code}\n{outcome.stderr}"
    assert "Traceback" not in outcome.stderr, outcome.stderr
    if outcome.code != 2:
        return
    message = _error_message(outcome.stderr)
    assert _names_what_is_wrong(message, argv, subcommands()[command], home), f"{argv}: vague: {message!r}"
    assert outcome.stdout == b"", f"{argv}: printed {outcome.stdout[:200]!r} and exited 2"
    assert dump_store(home) == before, f"{argv}: exited 2 but changed the store"


@pytest.mark.parametrize("command", sorted(subcommands()))
@fuzz(12)
@given(data=st.data())
def test_every_cli_argument_is_used_or_refused_cleanly(seeded: SluiceHome, command: str, data: st.DataObject
                                                       ) -> None:
    argv = data.draw(argvs(command), label="argv")
    check_cli(seeded, command, _returns(command, [*argv, "--home", str(seeded.home.root)]))


def test_the_fuzzed_commands_include_every_subcommand_and_exclude_only_the_blocking_ones() -> None:
    """A new command is picked up by the fuzz above; only commands that never return are parse-only."""
    assert set(subcommands()) > PARSE_ONLY
    assert {"submit", "backfill", "wait", "logs", "init"} <= set(subcommands()) - PARSE_ONLY


#: Keys of each kind near the seeded runs, so the fuzz also plans (and creates) real backfills.
NEAR_KEYS = {
    "daily": st.dates(date(2023, 12, 20), date(2024, 1, 31)).map(date.isoformat),
    "hourly": st.datetimes(datetime(2024, 1, 1), datetime(2024, 1, 2)).map(lambda moment: f"{moment:%Y-%m-%dT%H}"),
    "monthly": st.dates(date(2021, 1, 1), date(2024, 12, 31)).map(lambda day: f"{day:%Y-%m}"),
    "listed": st.sampled_from(["2024-01-01", "eu"]),
}


@fuzz(40)
@given(job=st.sampled_from(sorted(NEAR_KEYS)), dry_run=st.booleans(), data=st.data())
def test_backfill_ranges_of_every_kind_plan_or_refuse_naming_the_argument(
    seeded: SluiceHome, job: str, dry_run: bool, data: st.DataObject
) -> None:
    start, end = (data.draw(NEAR_KEYS[job] | KEYS, label=name) for name in ("--from", "--to"))
    values = data.draw(st.none() | PLAUSIBLE["values"], label="--values") if job == "listed" else None
    argv = ["backfill", job, "--from", start, "--to", end, "--home", str(seeded.home.root)]
    argv += [] if values is None else ["--values", values]
    check_cli(seeded, "backfill", argv + (["--dry-run"] if dry_run else []))


@fuzz(30)
@given(values=PLAUSIBLE["values"] | ANY_ARGUMENT, dry_run=st.booleans())
@example(values=",", dry_run=True)  # was IndexError: the plan took the first of no partitions
@example(values="", dry_run=False)  # meant every declared value
def test_list_backfill_values_plan_or_refuse_naming_the_argument(seeded: SluiceHome, values: str, dry_run: bool
                                                                 ) -> None:
    argv = ["backfill", "listed", "--values", values, "--home", str(seeded.home.root)]
    check_cli(seeded, "backfill", argv + (["--dry-run"] if dry_run else []))


#: What the CLI fuzz found, kept as plain cases: each was a traceback (or a silent misreading) before its fix.
FOUND = {
    "undecodable-queue": (["resume", "\udc80"], "argument queue", "not valid UTF-8"),  # UnicodeEncodeError
    "undecodable-jobs-folder": (["init", "--jobs", "x\udcff"], "--jobs", "not valid UTF-8"),  # in print()
    "unknown-user-jobs": (["runs", "--jobs", "~nosuchuser"], "--jobs", "no such user"),  # RuntimeError
    "unknown-user-home": (["runs", "--home", "~nosuchuser/h"], "--home", "no such user"),
    "long-jobs-folder": (["runs", "--jobs", "9" * 5000], "--jobs", "File name too long"),  # OSError
    "no-list-values": (["backfill", "listed", "--values", ",", "--dry-run"], "--values", "no partition"),  # IndexError
    "empty-list-values": (["backfill", "listed", "--values", ""], "--values", "no partition"),  # meant all values
    # argparse joined the extra arguments bare: "unrecognized arguments: " named nothing.
    "empty-extra-argument": (["wait", "1", "1", "--jobs", "1", ""], "unrecognized arguments: ''"),
}


@pytest.mark.parametrize("case", FOUND, ids=str)
def test_inputs_the_fuzz_found_are_refused_naming_the_argument(seeded: SluiceHome, case: str) -> None:
    argv, *mentions = FOUND[case]
    # The home goes first so a case's own --home, parsed last, wins.
    argv = [argv[0], "--home", str(seeded.home.root), *argv[1:]]
    before = dump_store(seeded)
    outcome = run_cli(argv)
    assert outcome.code == 2, outcome
    for mention in mentions:
        assert mention in _error_message(outcome.stderr), outcome.stderr
    assert dump_store(seeded) == before


def test_a_param_value_may_still_hold_any_bytes(seeded: SluiceHome) -> None:
    """The UTF-8 check spares -p values, which reach the job byte for byte."""
    outcome = run_cli(["submit", "hello", "-p", "who=\udcff\udcfe", "--json", "--home", str(seeded.home.root)])
    assert outcome.code == 0, outcome.stderr
