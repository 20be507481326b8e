"""Every vocabulary is written once (scheduler/states.py): its stored values never change, the scheduler writes
only event kinds listed there, and the store's SQL binds vocabulary values instead of repeating them."""

from __future__ import annotations

import ast
import re
from enum import StrEnum
from pathlib import Path

from scheduler.states import (
    NODE_EVENTS,
    ActivityAction,
    AttemptStatus,
    BackfillStatus,
    EndReason,
    EventKind,
    KillReason,
    NodeState,
    RunStatus,
)

ROOT = Path(__file__).resolve().parent.parent
VOCABULARIES: list[type[StrEnum]] = [RunStatus, AttemptStatus, EndReason, KillReason, BackfillStatus, NodeState,
                                     EventKind, ActivityAction]

#: What stores written by earlier Sluices hold, and what `--json` prints: a value may be added, never changed.
STORED = {
    RunStatus: "queued running retry_wait succeeded failed cancelled timed_out",
    AttemptStatus: "starting running succeeded failed cancelled timed_out lost yielded preempted",
    EndReason: "exit timeout cancelled node_lost launch_failed not_sent vanished checkpoint_yield preempted",
    KillReason: "cancelled timeout drained fenced",
    BackfillStatus: "active paused cancelled done",
    NodeState: "unknown up down refused drained quarantined",
    EventKind: "submitted dispatched dispatch_refused attempt_started attempt_ended retry_due cancelled "
               "cancel_requested retry kill fenced priority drain undrain pause resume node_up node_down "
               "node_refused host_key_accepted node_quarantined node_unquarantined node_retired probe_failed "
               "probe_recovered scheduler_started scheduler_stopped scheduler_error store_busy config_error "
               "backfill_created backfill_paused backfill_resumed backfill_throttled backfill_cancelled "
               "backfill_retry_failed backfill_done log_gap log_capture_stalled log_capture_resumed launch_failed "
               "launch_not_sent launch_unconfirmed relaunched attempt_probe_failed attempt_probe_failures_ended "
               "signal_delivered signal_failed folder_removed",
    ActivityAction: "launch probe signal fence end cleanup",
}


def _scheduler_sources() -> dict[Path, str]:
    return {path: path.read_text(encoding="utf-8") for path in (ROOT / "scheduler").rglob("*.py")}


def test_stored_values_never_change() -> None:
    for vocabulary in VOCABULARIES:
        assert [member.value for member in vocabulary] == STORED[vocabulary].split(), vocabulary.__name__


def test_every_member_has_a_comment_saying_what_it_is() -> None:
    source = (ROOT / "scheduler" / "states.py").read_text(encoding="utf-8")
    for vocabulary in VOCABULARIES:
        body = source.split(f"class {vocabulary.__name__}(StrEnum):", 1)[1].split("\nclass ", 1)[0]
        for member in vocabulary:
            assert re.search(rf"#: .+\n\s+{member.name} = ", body), f"{vocabulary.__name__}.{member.name}"


def test_the_scheduler_passes_no_event_kind_as_a_string_literal() -> None:
    offenders = []
    for path, source in _scheduler_sources().items():
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            if node.func.attr == "insert_event" and len(node.args) >= 3:
                kinds = [node.args[2]]
            elif node.func.attr == "transition_run":
                kinds = [keyword.value for keyword in node.keywords if keyword.arg == "kind"]
            else:
                continue
            if any(isinstance(kind, ast.Constant | ast.JoinedStr) for kind in kinds):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_every_event_kind_is_written_somewhere() -> None:
    """A kind nobody writes is a stale entry (or a writer that went back to a string). The node watcher writes
    the node_* kinds through NODE_EVENTS."""
    writers = "\n".join(source for path, source in _scheduler_sources().items() if path.name != "states.py")
    unwritten = {kind for kind in EventKind if f"EventKind.{kind.name}" not in writers}
    assert unwritten == set(NODE_EVENTS.values())
    assert "NODE_EVENTS" in writers


def test_the_stores_sql_binds_vocabulary_values_instead_of_repeating_them() -> None:
    """Quoted words in the store's SQL that are vocabulary values (migrations are frozen history: not checked)."""
    values = {member.value for vocabulary in VOCABULARIES for member in vocabulary}
    found = []
    for path in (ROOT / "scheduler" / "store").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found += [f"{path.name}:{node.lineno}: '{word}'" for word in re.findall(r"'([a-z_]+)'", node.value)
                          if word in values]
    assert found == []
