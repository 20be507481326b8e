"""Turn probe reports into durable facts: log bytes, offsets, checkpoints, progress, attempt ends.

Log bytes are written and fsynced to the bastion's log store before the transaction that records their offsets
commits; a crash in between leaves extra bytes past the recorded offset, which the next append cuts away.

When the bastion cannot store bytes (disk full, permissions), capture stalls: the attempt keeps its offsets, the
worker keeps the bytes, every poll tries again, and the stall is one `log_capture_stalled` event and, once bytes
go through again, one `log_capture_resumed` event saying for how long. A log file found shorter than its offset
is a `log_gap` event (see logstore)."""

from __future__ import annotations

from dataclasses import dataclass, field

import aiosqlite

from .executor import ProbeReport
from .logstore import Gap, LogStore
from .markers import CheckpointMarker, ProgressMarker, scan_lines
from .models import Attempt, from_iso
from .states import EventKind

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
    #: Why capture failed this time (the attempt is stalled), or None.
    log_error: str | None = None
    #: When the current stall began, or the one this report ends (then log_error is None).
    stall_began: str | None = None
    #: (stream, gap) for log files found shorter than their offsets.
    gaps: list[tuple[str, Gap]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """The job has exited and every byte it wrote is on the bastion."""
        return (self.report.state == "exited" and self.stdout_offset >= self.report.stdout_size
                and self.stderr_offset >= self.report.stderr_size)

    @property
    def stalled_at(self) -> str | None:
        """The attempt's log_stalled_at once this outcome is recorded."""
        return self.stall_began if self.log_error else None

    @property
    def changed(self) -> bool:
        return (self.stdout_offset != self.attempt.stdout_offset or self.stderr_offset != self.attempt.stderr_offset
                or self.parsed_offset != self.attempt.parsed_offset or self.log_error != self.attempt.log_error
                or self.stalled_at != self.attempt.log_stalled_at or bool(self.gaps))


class CaptureStalls:
    """When each attempt's capture began failing, as seen here: kept across failed passes (like inbox items)
    until a committed pass has recorded the stall's end, so its events are written once they can be, with
    the right start, even if the store could not be written while the stall lasted."""

    def __init__(self) -> None:
        self._began: dict[int, str] = {}

    def failed(self, attempt: Attempt, at: str) -> str:
        return attempt.log_stalled_at or self._began.setdefault(attempt.id, at)

    def went_through(self, attempt: Attempt) -> str | None:
        return attempt.log_stalled_at or self._began.get(attempt.id)

    def settle(self, ended: list[int], active: set[int]) -> None:
        """Forget stalls whose end was committed, and those of attempts no longer out."""
        for attempt_id in ended:
            self._began.pop(attempt_id, None)
        for attempt_id in set(self._began) - active:
            del self._began[attempt_id]


def store_output(logs: LogStore, attempt: Attempt, report: ProbeReport, stalls: CaptureStalls,
                 at: str) -> ProbeOutcome:
    """Append the report's new bytes to the log store and scan complete stdout lines for markers."""
    outcome = ProbeOutcome(attempt, report, attempt.stdout_offset, attempt.stderr_offset, attempt.parsed_offset)
    try:
        for stream, offset, chunk in (("stdout", attempt.stdout_offset, report.stdout_chunk),
                                      ("stderr", attempt.stderr_offset, report.stderr_chunk)):
            if chunk:
                gap = logs.append(attempt.run_id, attempt.number, stream, offset, chunk, at)
                if gap is not None:
                    outcome.gaps.append((stream, gap))
        outcome.stdout_offset += len(report.stdout_chunk)
        outcome.stderr_offset += len(report.stderr_chunk)
    except OSError as exc:
        # Stalled, never lost: the attempt keeps its recorded offsets, the worker its bytes; the next poll retries.
        outcome.gaps.clear()
        outcome.log_error = f"log capture failed on the bastion: {exc}"
        outcome.stall_began = stalls.failed(attempt, at)
        return outcome
    if report.stdout_chunk or report.stderr_chunk:
        outcome.stall_began = stalls.went_through(attempt)
    else:  # nothing to store: a stall neither begins nor ends here
        outcome.log_error, outcome.stall_began = attempt.log_error, attempt.log_stalled_at
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
    fields.update(log_error=outcome.log_error, log_stalled_at=outcome.stalled_at)
    await _record_stall(conn, outcome, at)
    for stream, gap in outcome.gaps:
        await q.insert_event(conn, at, EventKind.LOG_GAP, run_id=attempt.run_id, attempt=attempt.number,
                             actor="scheduler",
                             detail=f"{stream}: {gap.missing} bytes missing (bytes {gap.start} to {gap.end} of the "
                                    "bastion's log file were gone; filled in, capture goes on)")
    await q.update_attempt(conn, attempt.id, **fields)
    for marker in outcome.checkpoints:
        await q.insert_checkpoint(conn, attempt.run_id, attempt.number, at, marker.value, marker.offset)


async def _record_stall(conn: aiosqlite.Connection, outcome: ProbeOutcome, at: str) -> None:
    """One event when a stall begins (or when it can first be written) and one when bytes go through again."""
    from .store import queries as q

    attempt, began = outcome.attempt, outcome.stall_began
    if began is None or (outcome.log_error and attempt.log_stalled_at):
        return
    if attempt.log_stalled_at is None:
        await q.insert_event(conn, at, EventKind.LOG_CAPTURE_STALLED, run_id=attempt.run_id, attempt=attempt.number,
                             actor="scheduler", detail=(outcome.log_error or "log capture on the bastion failed")
                             + f" (since {began}); the worker keeps the bytes and every poll tries again")
    if outcome.log_error is None:
        start, end = from_iso(began), from_iso(at)
        assert start is not None and end is not None
        seconds = (end - start).total_seconds()
        await q.insert_event(conn, at, EventKind.LOG_CAPTURE_RESUMED, run_id=attempt.run_id, attempt=attempt.number,
                             actor="scheduler", detail=f"log capture was stalled for {seconds:.1f}s (since {began});"
                                                       " no byte was lost")
