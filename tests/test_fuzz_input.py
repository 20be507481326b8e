"""Bad input, fuzzed, beyond the job loader: nodes.toml and queues.toml, cron expressions and time zones,
partition ranges of every kind.

The contract everywhere: a value, or an operator error (exit 2) that names the file, field or argument and
changes nothing in the store; never a traceback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fuzzing import ANY_VALUE, CRON, DURATIONS, INTS, NAMES, toml_document
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

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

