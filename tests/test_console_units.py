"""Pure pieces of the console: parsing what the operator types, log lines, grid layout, wording, imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from console.tui.backfill_form import LaunchForm, parse_params
from console.tui.format import attempt_outcome, duration_text
from console.tui.slis import percentile, sparkline
from console.tui.views import describe_filter, parse_run_filter, parse_view
from console.tui.widgets.grid_layout import layout, neighbour
from console.tui.widgets.log_lines import find_matches, split_lines, wrap_rows
from console.tui.widgets.run_columns import content_widths, header_text, row_text
from console.tui.widgets.table_sync import sync_rows  # noqa: F401  (imported to check it loads)
from scheduler.models import Attempt, Run
from scheduler.run_filter import RunFilter

CONSOLE = Path(__file__).resolve().parent.parent / "console"


def test_view_commands_parse_with_scope():
    assert parse_view(":runs failed job=etl").run_filter == RunFilter(statuses=("failed",), job="etl")
    assert parse_view("r dead").run_filter.statuses == ("failed", "timed_out")
    assert parse_view("run 42").target == 42
    assert parse_view("backfill 3").view == "backfill"
    assert parse_view("bf").view == "backfills"
    with pytest.raises(ValueError, match="no view"):
        parse_view("nonsense")
    with pytest.raises(ValueError, match="needs an id"):
        parse_view("run x")


def test_run_filter_words_and_round_trip():
    run_filter = parse_run_filter("queued queue:batch node=n1 backfill=7 nightly")
    assert run_filter == RunFilter(statuses=("queued",), queue="batch", node="n1", backfill_id=7, text="nightly")
    assert parse_run_filter(describe_filter(run_filter)) == run_filter
    with pytest.raises(ValueError, match="unknown status"):
        parse_run_filter("status=bogus")


def test_split_lines_keeps_the_unfinished_tail():
    lines, ends, tail = split_lines(b"par", b"tial\nnext\r\nhalf", final=False)
    assert lines == ["partial", "next"] and ends == [8, 14] and tail == b"half"
    lines, ends, tail = split_lines(tail, b"", final=True, base=14)
    assert lines == ["half"] and ends == [18] and tail == b""
    assert split_lines(b"", b"\x1b[31mred\xff\n", final=False)[0] == ["\ufffd[31mred\ufffd"]


def test_wrap_and_search():
    assert wrap_rows(["abcdef", "", "xy"], 4) == [(0, 0), (0, 4), (1, 0), (2, 0)]
    assert find_matches(["Error here", "fine", "an ERROR"], "error") == [0, 2]


def test_daily_partitions_lay_out_as_a_calendar():
    keys = ["2026-10-30", "2026-10-31", "2026-11-01", "2026-11-02"]
    rows = layout(keys, 80)
    assert [row.label for row in rows] == ["2026-10", "2026-11"]
    assert rows[0].cells == [(29, 0), (30, 1)] and rows[1].cells == [(0, 2), (1, 3)]
    assert neighbour(rows, 1, 0, 1) == 2  # right from Oct 31 wraps to Nov 1
    assert neighbour(rows, 0, 1, 0) == 3  # down from Oct 30 lands on the nearest day of November


def test_other_partitions_flow_in_rows():
    rows = layout([f"shard-{n}" for n in range(50)], 31)
    assert len(rows) == 5 and len(rows[0].cells) == 10


def test_attempt_outcomes_in_plain_words():
    base = dict(id=1, run_id=1, number=1, node="n1", pid=None, pid_start=None, remote_dir="/", checkpoint_in=None,
                started_at="", ended_at=None, stdout_offset=0, stderr_offset=0, parsed_offset=0, kill_signal_at=None,
                kill_reason=None, progress_done=None, progress_total=None, progress_message=None, progress_at=None,
                log_error=None, cleaned=False, error=None)
    assert attempt_outcome(Attempt(**{**base, "status": "failed", "reason": "exit", "exit_code": 137})) == \
        "killed by signal 9 (exit 137)"
    assert attempt_outcome(Attempt(**{**base, "status": "lost", "reason": "node_lost", "exit_code": None})) == \
        "node n1 lost"
    refused = Attempt(**{**base, "status": "failed", "reason": "launch_failed", "exit_code": None,
                         "error": "host key refused"})
    assert attempt_outcome(refused) == "could not be launched: host key refused"


def test_runs_columns_grow_with_the_terminal():
    created = "2026-11-23T09:00:00+00:00"
    run = Run(id=7, job="doomed_migration", status="failed", queue="default", priority=0, params={}, partition=None,
              definition={}, idempotency_key=None, backfill_id=None, backfill_seq=None, schedule_tick=None,
              attempt=1, attempts_used=1, node="n1", exit_code=3, next_attempt_at=None, checkpoint_floor=0,
              cancel_requested=None, created_at=created, started_at=created, ended_at=created, updated_at=created)
    why = "exit 3: could not apply migration 0042 to the orders table"
    narrow, wide = row_text(run, why, 80, False).plain, row_text(run, why, 160, False).plain
    assert "doomed_migration " in narrow and len(narrow) == 80  # JOB as wide as the name, not cut
    assert "doomed_migration" in wide and why in wide and len(wide) == 160
    for width in (80, 100, 120, 160):
        header, row = header_text(width, content_widths([run])).plain, row_text(run, why, width, False).plain
        assert header.index("STATUS") == row.index("failed")  # header and rows line up at every width
        assert header.index("WHY") == row.index("exit 3")


def test_numbers_in_words():
    assert [duration_text(s) for s in (5, 125, 7300, 200_000)] == ["5s", "2m05s", "2h01m", "2d07h"]
    assert percentile([1, 2, 3, 4], 0.5) in (2, 3) and percentile([], 0.5) is None
    assert sparkline([0, 1, 2, 4]) == " ▂▄█"


def test_launch_form_arguments():
    form = LaunchForm(job="etl", range_from="2026-10-01", range_to="2026-10-30", max_parallel="3",
                      params="mode=full region=eu")
    arguments = form.plan_arguments()
    assert arguments["max_parallel"] == 3 and arguments["params"] == {"mode": "full", "region": "eu"}
    with pytest.raises(ValueError, match="max parallel"):
        LaunchForm(job="etl", max_parallel="0").plan_arguments()
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_params("oops")


#: Modules the console may import only these engine API types from (scheduler.engine does not re-export them).
TYPES_ONLY = {"scheduler.backfills": {"BackfillPlan", "BackfillDetail"}, "scheduler.config": {"JobDefinition"}}


def _names_from(path: Path, module: str) -> set[str]:
    return {alias.name for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and node.module == module for alias in node.names}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_console_uses_only_the_engine_and_public_textual():
    """No SQL or scheduler internals (the run filter is part of the engine's API), no private Textual modules."""
    allowed = {"scheduler.engine", "scheduler.models", "scheduler.errors", "scheduler.home", "scheduler.states",
               "scheduler.clock",
               "scheduler.run_filter", "scheduler.run_order",
               # The marker syntax, written once: the log view dims or hides marker lines by it.
               "scheduler.markers",
               # Types in the engine's signatures that scheduler.engine does not re-export: BackfillPlan and
               # BackfillDetail (plan_backfill, backfill_detail), JobDefinition (jobs); only those (TYPES_ONLY).
               "scheduler.backfills", "scheduler.config"}
    tui = list((CONSOLE / "tui").rglob("*.py"))
    for path in tui:
        for name in _imports(path):
            if name.startswith("scheduler"):
                assert name in allowed, f"{path.name} imports {name}"
            assert not any(part.startswith("_") for part in name.split(".")[1:]) or not name.startswith("textual"), \
                f"{path.name} imports private {name}"
        for module, types in TYPES_ONLY.items():
            assert _names_from(path, module) <= types, f"{path.name} uses {module} beyond the types {types}"
    assert max(len(path.read_text().splitlines()) for path in tui) < 500
