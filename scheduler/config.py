"""TOML configuration at the edge: nodes.toml, queues.toml and job definitions, validated by pydantic."""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)

from . import shellwords
from .durations import UNIT_FORMS, parse_duration
from .errors import ConfigError, UsageError

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
PARAM_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
DEFAULT_MAX_PARTITIONS = 50_000


def _duration(value: Any) -> float:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return parse_duration(value)
    raise ValueError(f"expected a duration such as {UNIT_FORMS}")


def _param_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        # The definition snapshot and --json output are JSON, which has no nan or inf.
        raise ValueError(f"expected a finite number, not {value}")
    if isinstance(value, str | int | float):
        return value
    kind = "a table" if isinstance(value, dict) else "a list" if isinstance(value, list) else type(value).__name__
    raise ValueError(f"expected a string, a number or true/false, not {kind}")


Duration = Annotated[float, BeforeValidator(_duration)]
# TOML has real integers and booleans: `priority = true` or `slots = 2.0` is a mistake, not a value to coerce.
Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]
ParamValue = Annotated[str | int | float | bool, BeforeValidator(_param_value)]


#: A node whose attempts fail this many times in a row for infrastructure reasons takes no new work.
DEFAULT_QUARANTINE_AFTER = 5

class FieldProblem(ValueError):
    """A model-level check's complaint about one field, reported under that field's name."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


#: How a node's host key is checked, named after OpenSSH's StrictHostKeyChecking: "strict" trusts only keys
#: already in a known_hosts file; "accept-new" also trusts an unknown host's first key (and records it), never
#: a changed one.
HostKeyPolicy = Literal["strict", "accept-new"]


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_unique_names(table: str, names: list[str]) -> None:
    """FieldProblem at the second table that repeats a name, pointing back to the first."""
    first: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in first:
            raise FieldProblem(f"{table}.{index}.name", f"{table} name {name!r} is already used by "
                               f"{table}.{first[name]}")
        first[name] = index


class NodeConfig(Frozen):
    name: str = Field(pattern=NAME_PATTERN)
    host: str = Field(min_length=1, max_length=255)
    port: Int = Field(default=22, ge=1, le=65535)
    user: str | None = Field(default=None, min_length=1, max_length=64)
    identity_file: str | None = None
    known_hosts: str | None = None
    host_key: HostKeyPolicy = "strict"
    slots: Int = Field(default=4, ge=1, le=1024)
    labels: list[str] = Field(default_factory=list)
    workdir: str = "~/.sluice"
    #: How long this node may stay unreachable before its attempts are given up and dispatched again.
    lost_after: Duration | None = None
    #: Infrastructure failures in a row (launch failed, not sent, vanished, node lost) that quarantine the node.
    quarantine_after: Int = Field(default=DEFAULT_QUARANTINE_AFTER, ge=1, le=1000)

    @field_validator("host", "workdir")
    @classmethod
    def _no_control_chars(cls, value: str) -> str:
        if any(ord(ch) < 32 for ch in value):
            raise ValueError("must not contain control characters")
        return value


class NodesFile(Frozen):
    node: list[NodeConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> NodesFile:
        _check_unique_names("node", [node.name for node in self.node])
        return self


class QueueConfig(Frozen):
    name: str = Field(pattern=NAME_PATTERN)
    priority: Int = Field(default=0, ge=-1_000_000, le=1_000_000)
    max_running: Int | None = Field(default=None, ge=1, le=1_000_000)


class QueuesFile(Frozen):
    queue: list[QueueConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> QueuesFile:
        # Without this the last table silently won, so a limit an operator wrote could be ignored.
        _check_unique_names("queue", [queue.name for queue in self.queue])
        return self


class RetryPolicy(Frozen):
    max_attempts: Int = Field(default=1, ge=1, le=1000)
    backoff: Duration = 10.0
    max_backoff: Duration = 600.0
    #: Retry only these exit codes; None means any non-zero code.
    on_exit_codes: list[Annotated[Int, Field(ge=1, le=255)]] | None = None
    #: Whether an attempt lost with its node counts against max_attempts.
    node_lost_consumes_attempt: Bool = False


class PartitionSpec(Frozen):
    param: str = Field(pattern=PARAM_PATTERN)
    kind: Literal["daily", "hourly", "monthly", "list"]
    values: list[str] | None = None

    @model_validator(mode="after")
    def _values_match_kind(self) -> PartitionSpec:
        if self.kind == "list" and not self.values:
            raise ValueError("kind = \"list\" needs a non-empty values = [...]")
        if self.kind != "list" and self.values is not None:
            raise ValueError(f"values = [...] only goes with kind = \"list\", not {self.kind!r}")
        return self


#: Variables a secret may not replace: the worker's shell and Sluice's launcher need them as they are.
RESERVED_SECRET_NAMES = frozenset({"PATH", "HOME", "IFS", "SHELL", "USER", "LOGNAME", "PWD", "OLDPWD", "ENV",
                                   "CDPATH", "BASH_ENV", "SHELLOPTS", "BASHOPTS", "PS4", "TMPDIR",
                                   "READ_PID_START"})
SECRET_NAME_PATTERN = r"^[A-Z_][A-Z0-9_]{0,127}$"


class SecretSource(Frozen):
    """Where the scheduler reads one secret when it dispatches: an environment variable or a file on the bastion."""

    env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    file: str | None = Field(default=None, min_length=1, max_length=4096)

    @model_validator(mode="after")
    def _one_source(self) -> SecretSource:
        if (self.env is None) == (self.file is None):
            raise ValueError('expected exactly one of env = "VARIABLE" or file = "PATH"')
        return self


class JobDefinition(Frozen):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    command: str = Field(min_length=1, max_length=100_000)
    params: dict[str, ParamValue] = Field(default_factory=dict)
    queue: str = Field(default="default", pattern=NAME_PATTERN)
    priority: Int = Field(default=0, ge=-1_000_000, le=1_000_000)
    timeout: Duration | None = None
    #: Where the job runs: an absolute path, or one relative to the login's home (`~` or `~/x` or `x`).
    workdir: str | None = Field(default=None, min_length=1, max_length=4096)
    #: The job's umask (octal, e.g. "027"); without it the job keeps the login's umask.
    umask: str | None = Field(default=None, pattern=r"^0?[0-7]{3}$")
    env: dict[str, str] = Field(default_factory=dict)
    #: Secret environment variables of the job, read on the bastion at dispatch and never stored anywhere.
    secrets: dict[str, SecretSource] = Field(default_factory=dict)
    labels: list[str] = Field(default_factory=list)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    partition: PartitionSpec | None = None
    schedule: str | None = None
    timezone: str = "UTC"
    catchup: Bool = False
    after: list[str] = Field(default_factory=list)
    #: The most partitions one backfill of this job may create.
    max_partitions: int = Field(default=DEFAULT_MAX_PARTITIONS, ge=1, le=1_000_000)
    kill_grace: Duration = 30.0
    #: How long this job's attempt outlives its node's silence before it is dispatched again (overrides the node).
    lost_after: Duration | None = None
    checkpoint_exit_code: Int = Field(default=85, ge=1, le=255)

    @field_validator("params")
    @classmethod
    def _param_names(cls, params: dict[str, ParamValue]) -> dict[str, ParamValue]:
        for name in params:
            if not re.match(PARAM_PATTERN, name):
                raise ValueError(f"param name {name!r} must be letters, digits and _, not starting with a digit")
        return params

    @field_validator("workdir")
    @classmethod
    def _workdir(cls, workdir: str | None) -> str | None:
        if workdir is not None and re.match(r"~[^/]", workdir):
            raise ValueError("~user is not supported: write the absolute path, or a path from the login's home "
                             "such as ~/data")
        if workdir is not None and any(ord(ch) < 32 for ch in workdir):
            raise ValueError("must not contain control characters")
        return workdir

    @field_validator("env")
    @classmethod
    def _env_names(cls, env: dict[str, str]) -> dict[str, str]:
        for name, value in env.items():
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
                raise ValueError(f"env name {name!r} must be letters, digits and _")
            if "\x00" in value:
                raise ValueError(f"env {name} contains a NUL byte")
        return env

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, secrets: dict[str, SecretSource]) -> dict[str, SecretSource]:
        for name in secrets:
            if not re.match(SECRET_NAME_PATTERN, name):
                raise ValueError(f"secret name {name!r} must be upper-case letters, digits and _")
            if name in RESERVED_SECRET_NAMES or name.startswith(("SLUICE_", "LD_")):
                raise ValueError(f"secret name {name!r} is reserved: the worker's shell or Sluice sets it")
        return secrets

    @field_validator("schedule")
    @classmethod
    def _cron(cls, schedule: str | None) -> str | None:
        if schedule is None:
            return None
        from .cron import validate_cron

        try:
            validate_cron(schedule)
        except UsageError as exc:
            raise ValueError(str(exc)) from None
        return schedule

    @field_validator("timezone")
    @classmethod
    def _tz(cls, name: str) -> str:
        from .cron import validate_timezone

        try:
            validate_timezone(name)
        except UsageError:
            # The error names the field already (`timezone: ...`): the same words as before the checks merged.
            raise ValueError(f"{name!r} is not a known time zone (e.g. \"UTC\", \"Europe/Paris\")") from None
        return name

    @model_validator(mode="after")
    def _placeholders(self) -> JobDefinition:
        said = shellwords.problems(self.command, self.param_names())
        if said:
            raise FieldProblem("command", "; ".join(said))
        for name in sorted(set(self.secrets) & set(self.env)):
            raise FieldProblem("secrets", f"{name} is both a secret and an env value: keep one")
        by_variable: dict[str, str] = {}
        for name in sorted(self.param_names()):
            other = by_variable.setdefault(name.upper(), name)
            if other != name:
                raise FieldProblem("params", f"params {other!r} and {name!r} would both reach the job as "
                                   f"SLUICE_PARAM_{name.upper()}: rename one")
        return self

    @model_validator(mode="after")
    def _partition_param(self) -> JobDefinition:
        if self.catchup and not self.schedule:
            raise ValueError("catchup = true needs a schedule")
        if self.schedule and self.partition and self.partition.kind == "list":
            raise ValueError("a schedule fills the partition with its tick time, so [partition] kind must be "
                             "daily, hourly or monthly, not \"list\"")
        return self

    def param_names(self) -> set[str]:
        names = set(self.params)
        if self.partition:
            names.add(self.partition.param)
        return names


_PATTERN_WORDS = {
    NAME_PATTERN: "expected letters, digits, '_', '.' or '-', starting with a letter or digit (at most 128)",
    PARAM_PATTERN: "expected letters, digits and '_', not starting with a digit (at most 64)",
    r"^0?[0-7]{3}$": "expected an octal umask such as \"022\" or \"0027\"",
}


def _known_fields() -> set[str]:
    models: list[type[BaseModel]] = [NodeConfig, QueueConfig, RetryPolicy, PartitionSpec, JobDefinition,
                                     SecretSource]
    return {name for model in models for name in model.model_fields} | {"node", "queue"}


def _problem(item: Any) -> str:
    """One field's complaint in an operator's words: what is wrong, what is expected, what was given."""
    kind = item["type"]
    if kind == "extra_forbidden":
        name = str(item["loc"][-1]) if item["loc"] else ""
        close = difflib.get_close_matches(name, _known_fields(), n=1)
        hint = f"did you mean {close[0]!r}?" if close else "check the spelling; `sluice init` writes an example"
        return f"unknown field ({hint})"
    if kind == "missing":
        return "required field is missing"
    if kind == "string_pattern_mismatch":
        message = str(_PATTERN_WORDS.get(item.get("ctx", {}).get("pattern"), item["msg"]))
    else:
        message = str(item["msg"]).removeprefix("Value error, ")
    given = repr(item.get("input"))
    if kind.startswith(("int_", "bool_", "string_", "float_", "list_", "dict_", "literal_", "greater", "less")):
        message += f" (got {given if len(given) <= 40 else given[:37] + '...'})"
    return message


def format_validation_error(source: str, error: ValidationError) -> str:
    """One paragraph naming the file, each field path and what is expected."""
    problems = []
    for item in error.errors():
        raised = item.get("ctx", {}).get("error")
        path = ".".join(str(part) for part in item["loc"])
        if isinstance(raised, FieldProblem):
            path = ".".join(filter(None, [path, raised.field]))
        path = path or "(top level)"
        problems.append(f"{path}: {_problem(item)}")
    return f"{source}: " + "; ".join(problems)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: TOML syntax error: {exc}") from None


def load_nodes(path: Path) -> list[NodeConfig]:
    """Nodes from nodes.toml; a missing file means no nodes."""
    if not path.exists():
        return []
    try:
        return NodesFile.model_validate(read_toml(path)).node
    except ValidationError as exc:
        raise ConfigError(format_validation_error(str(path), exc)) from None


def load_queues(path: Path) -> list[QueueConfig]:
    if not path.exists():
        return []
    try:
        return QueuesFile.model_validate(read_toml(path)).queue
    except ValidationError as exc:
        raise ConfigError(format_validation_error(str(path), exc)) from None


def load_job_file(path: Path) -> JobDefinition:
    data = read_toml(path)
    data.setdefault("name", path.stem)
    try:
        return JobDefinition.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(str(path), exc)) from None


def load_jobs(directory: Path) -> dict[str, JobDefinition]:
    """Every *.toml in the jobs folder; any invalid file is an error naming it."""
    if not directory.is_dir():
        return {}
    jobs: dict[str, JobDefinition] = {}
    origin: dict[str, Path] = {}
    for path in sorted(directory.glob("*.toml")):
        job = load_job_file(path)
        if job.name in jobs:
            raise ConfigError(f"{path}: name: job {job.name!r} is already defined in {origin[job.name]}")
        jobs[job.name] = job
        origin[job.name] = path
    for job in jobs.values():
        for upstream in job.after:
            if upstream not in jobs:
                raise ConfigError(f"{origin[job.name]}: after: unknown job {upstream!r}")
    return jobs
