"""The job files one by one, for the console's jobs screen: a broken file is listed with its error, and the
valid ones keep their definitions (load_jobs, which the scheduler and the CLI use, refuses the whole folder)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .config import JobDefinition, load_job_file
from .cron import validate_timezone
from .errors import SluiceError
from .models import Run
from .partitions import TIME_KINDS, key_for_time

#: The submitted event's detail of a run triggered from outside its schedule.
TRIGGER_NOTE = "triggered now, outside its schedule"


@dataclass(frozen=True)
class JobEntry:
    """One job file: its definition when valid, else the error that makes the folder invalid."""

    name: str
    path: Path
    definition: JobDefinition | None
    error: str | None = None


@dataclass(frozen=True)
class JobSummary:
    """A job file with when its schedule next fires (stored UTC time), its newest run, and the partition a run
    triggered now would fill."""

    entry: JobEntry
    next_tick: str | None
    last_run: Run | None
    trigger_partition: str | None = None


def job_catalog(directory: Path) -> list[JobEntry]:
    """Every *.toml in the jobs folder in name order, each valid or with its own error (the same checks as
    load_jobs: the file itself, a name defined twice, an unknown upstream job)."""
    if not directory.is_dir():
        return []
    entries: list[JobEntry] = []
    origin: dict[str, Path] = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            job = load_job_file(path)
        except SluiceError as exc:
            entries.append(JobEntry(path.stem, path, None, str(exc)))
            continue
        if job.name in origin:
            error = f"{path}: name: job {job.name!r} is already defined in {origin[job.name]}"
            entries.append(JobEntry(job.name, path, None, error))
            continue
        origin[job.name] = path
        entries.append(JobEntry(job.name, path, job))
    return [_check_upstream(entry, origin) for entry in entries]


def _check_upstream(entry: JobEntry, defined: dict[str, Path]) -> JobEntry:
    if entry.definition is None:
        return entry
    for upstream in entry.definition.after:
        if upstream not in defined:
            return JobEntry(
                entry.name, entry.path, entry.definition, f"{entry.path}: after: unknown job {upstream!r}"
            )
    return entry


def trigger_partition(job: JobDefinition, now: datetime) -> str | None:
    """The partition a run triggered now fills: the current period in the job's zone, as its tick would."""
    if job.partition is None or job.partition.kind not in TIME_KINDS:
        return None
    return key_for_time(job.partition.kind, now.astimezone(validate_timezone(job.timezone)))
