"""Turn a job definition plus params into a run's snapshot, and a run into the script its attempt executes."""

from __future__ import annotations

import shlex
from typing import Any

from . import shellwords
from .config import JobDefinition
from .errors import UsageError
from .models import Run

MAX_PARAM_BYTES = 128 * 1024


def parse_param_args(pairs: list[str]) -> dict[str, str]:
    """-p NAME=VALUE arguments as a dict."""
    params: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"-p {pair!r}: expected NAME=VALUE")
        params[name] = value
    return params


def resolve_params(job: JobDefinition, given: dict[str, Any], partition: str | None = None) -> dict[str, str]:
    """Defaults overlaid with given values; every name must be declared by the job."""
    declared = job.param_names()
    unknown = sorted(set(given) - declared)
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise UsageError(f"job {job.name}: unknown param {', '.join(unknown)} (its params: {known})")
    resolved = {name: _as_text(value) for name, value in job.params.items()}
    for name, value in given.items():
        if not isinstance(value, str | int | float | bool) or value is None:
            raise UsageError(f"job {job.name}: param {name} must be a string or number, not {type(value).__name__}")
        resolved[name] = _as_text(value)
    if job.partition:
        if partition is not None:
            resolved[job.partition.param] = partition
        if job.partition.param not in resolved:
            raise UsageError(
                f"job {job.name} is partitioned by {job.partition.param}: pass -p {job.partition.param}=VALUE "
                "or use `sluice backfill`"
            )
    for name, value in resolved.items():
        if "\x00" in value:
            raise UsageError(f"job {job.name}: param {name} contains a NUL byte, which no shell can pass on")
        if len(value.encode("utf-8", "surrogateescape")) > MAX_PARAM_BYTES:
            raise UsageError(f"job {job.name}: param {name} is longer than {MAX_PARAM_BYTES} bytes")
    return resolved


def partition_of(job: JobDefinition, params: dict[str, str]) -> str | None:
    if job.partition is None:
        return None
    from .partitions import validate_key

    value = params[job.partition.param]
    if job.partition.kind == "list":
        if job.partition.values and value not in job.partition.values:
            raise UsageError(f"job {job.name}: partition {value!r} is not one of {job.partition.values}")
        return value
    return validate_key(job.partition.kind, value)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_command(command: str, params: dict[str, str]) -> str:
    """The command with each {name} of a declared param turned into a quoted reference to its variable."""
    return shellwords.render(command, params)


def attempt_dir(workdir: str, home_id: str, run_id: int, attempt: int) -> str:
    return f"{workdir.rstrip('/')}/{home_id}/r{run_id}-a{attempt}"


def job_script(run: Run, attempt: int, checkpoint: str | None) -> bytes:
    """The script the launcher stores as job.sh: exports, cd, the command. Values are shell-quoted."""
    definition = run.definition
    env: dict[str, str] = dict(definition.get("env", {}))
    env.update({
        "SLUICE_RUN_ID": str(run.id),
        "SLUICE_ATTEMPT": str(attempt),
        "SLUICE_JOB": run.job,
        "SLUICE_KILL_GRACE": str(int(definition.get("kill_grace", 30))),
        "SLUICE_CHECKPOINT_EXIT_CODE": str(definition.get("checkpoint_exit_code", 85)),
    })
    if run.partition is not None:
        env["SLUICE_PARTITION"] = run.partition
    for name, value in run.params.items():
        env[shellwords.param_variable(name)] = value  # the rendered command refers to it
    lines = ["# written by sluice: one attempt of one run"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in sorted(env.items())]
    if checkpoint is not None:
        # A shell variable cannot hold NUL; drop it rather than fail the attempt.
        lines.append(f"export SLUICE_CHECKPOINT={shlex.quote(checkpoint.replace(chr(0), ''))}")
    else:
        lines.append("unset SLUICE_CHECKPOINT")
    if definition.get("umask"):
        lines.append(f"umask {definition['umask']}")
    target = _cd_target(definition.get("workdir") or "~")
    lines.append(f"cd {target} || {{ echo sluice: cannot cd to {target} >&2; exit 126; }}")
    lines.append(render_command(definition["command"], run.params))
    # A value from the command line that is not UTF-8 holds its bytes as surrogates: send the bytes.
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")


def _cd_target(workdir: str) -> str:
    """The workdir as shell text: absolute as written, anything else from the login's home (`~` is the home)."""
    if workdir.startswith("/"):
        return shlex.quote(workdir)
    rest = workdir.removeprefix("~").removeprefix("/")
    return '"$HOME"' + ("/" + shlex.quote(rest) if rest else "")
