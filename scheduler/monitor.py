"""Turn probe reports into durable facts: log bytes, offsets, checkpoints, progress, attempt ends.

Log bytes are written and fsynced to the bastion's log store before the transaction that records their offsets
commits; a crash in between leaves extra bytes past the recorded offset, which the next append cuts away."""

from __future__ import annotations

from dataclasses import dataclass, field

import aiosqlite

from .executor import ProbeReport
from .logstore import LogStore
from .markers import CheckpointMarker, ProgressMarker, scan_lines
from .models import Attempt

#: Markers are scanned only on stdout, per the protocol.
MARKER_STREAM = "stdout"
MAX_UNTERMINATED = 1 << 20


@dataclass
class ProbeOutcome:
    """What one report means for one attempt, computed before the transaction."""

    attempt: Attempt
    report: ProbeReport
    stdout_offset: int
    stderr_offset: int
    parsed_offset: int
    checkpoints: list[CheckpointMarker] = field(default_factory=list)
    progress: ProgressMarker | None = None
    log_error: str | None = None

    @property
    def complete(self) -> bool:
        """The job has exited and every byte it wrote is on the bastion."""
        return (self.report.state == "exited" and self.stdout_offset >= self.report.stdout_size
                and self.stderr_offset >= self.report.stderr_size)

    @property
    def changed(self) -> bool:
        return (self.stdout_offset != self.attempt.stdout_offset or self.stderr_offset != self.attempt.stderr_offset
                or self.parsed_offset != self.attempt.parsed_offset or self.log_error is not None)


def store_output(logs: LogStore, attempt: Attempt, report: ProbeReport) -> ProbeOutcome:
    """Append the report's new bytes to the log store and scan complete stdout lines for markers."""
    outcome = ProbeOutcome(attempt, report, attempt.stdout_offset, attempt.stderr_offset, attempt.parsed_offset)
    try:
        if report.stdout_chunk:
            logs.append(attempt.run_id, attempt.number, "stdout", attempt.stdout_offset, report.stdout_chunk)
            outcome.stdout_offset += len(report.stdout_chunk)
        if report.stderr_chunk:
            logs.append(attempt.run_id, attempt.number, "stderr", attempt.stderr_offset, report.stderr_chunk)
            outcome.stderr_offset += len(report.stderr_chunk)
    except OSError as exc:
        # Loud, never silent: the attempt keeps its recorded offsets and the next poll tries again.
        outcome.stdout_offset, outcome.stderr_offset = attempt.stdout_offset, attempt.stderr_offset
        outcome.log_error = f"log capture failed on the bastion: {exc}"
        return outcome
    _scan_markers(logs, outcome)
    return outcome


def _scan_markers(logs: LogStore, outcome: ProbeOutcome) -> None:
    attempt = outcome.attempt
    if outcome.stdout_offset <= outcome.parsed_offset:
        return
    data = logs.read(attempt.run_id, attempt.number, MARKER_STREAM, outcome.parsed_offset,
                     outcome.stdout_offset - outcome.parsed_offset)
    if outcome.complete and not data.endswith(b"\n"):
        data += b"\n"  # the job has ended: its last line is complete even without a newline
    markers, end = scan_lines(data, outcome.parsed_offset)
    if end == outcome.parsed_offset and len(data) > MAX_UNTERMINATED:
        end = outcome.stdout_offset  # a giant line with no newline is no marker: stop rescanning it every poll
    outcome.parsed_offset = min(end, outcome.stdout_offset)
    for marker in markers:
        if isinstance(marker, CheckpointMarker):
            outcome.checkpoints.append(marker)
        else:
            outcome.progress = marker


async def record_output(conn: aiosqlite.Connection, outcome: ProbeOutcome, at: str) -> None:
    """Offsets, checkpoints and progress of one attempt, in the caller's transaction."""
    from .store import queries as q

    attempt = outcome.attempt
    fields: dict[str, object] = {
        "stdout_offset": outcome.stdout_offset,
        "stderr_offset": outcome.stderr_offset,
        "parsed_offset": outcome.parsed_offset,
    }
    if outcome.progress is not None:
        fields.update(progress_done=outcome.progress.done, progress_total=outcome.progress.total,
                      progress_message=outcome.progress.message, progress_at=at)
    if outcome.log_error != attempt.log_error:
        fields["log_error"] = outcome.log_error
        if outcome.log_error:
            await q.insert_event(conn, at, "log_capture_failed", run_id=attempt.run_id, attempt=attempt.number,
                                 actor="scheduler", detail=outcome.log_error)
    await q.update_attempt(conn, attempt.id, **fields)
    for marker in outcome.checkpoints:
        await q.insert_checkpoint(conn, attempt.run_id, attempt.number, at, marker.value, marker.offset)
