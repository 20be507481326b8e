"""One filter language: `sluice runs WORDS` selects exactly what the console's `:runs WORDS` shows."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.tui.views import parse_view
from scheduler.run_filter import STATUS_GROUPS, RunFilter, describe_filter, parse_run_filter
from scheduler.states import TERMINAL, RunStatus
from tests.harness import SluiceHome

NODES = '[[node]]\nname = "n1"\nhost = "127.0.0.1"\nport = 1\n'


@pytest.fixture
def home(tmp_path: Path) -> SluiceHome:
    sluice = SluiceHome(tmp_path, NODES)
    sluice.add_job("etl_load", 'command = "true"\nqueue = "default"\n')
    sluice.add_job("report", 'command = "true"\nqueue = "default"\n')
    return sluice


async def _ids(home: SluiceHome, *words: str) -> list[int]:
    return [run["id"] for run in (await home.cli_json("runs", *words))["runs"]]


async def test_the_cli_takes_the_console_filter_words(home: SluiceHome) -> None:
    etl = [await home.submit("etl_load") for _ in range(2)]
    report = await home.submit("report")
    await home.cli("cancel", str(etl[0]))
    assert await _ids(home, "job=etl_load") == etl[::-1]
    assert await _ids(home, "queued", "job=etl_load") == [etl[1]]
    assert await _ids(home, "waiting") == [report, etl[1]]
    assert await _ids(home, "ended", "job:etl_load") == [etl[0]]
    assert await _ids(home, "report") == [report]  # free text
    # The flags still work, and mean the same as the words.
    assert await _ids(home, "--status", "waiting", "--job", "etl_load") == await _ids(home, "waiting", "job=etl_load")


async def test_a_filter_the_console_would_refuse_exits_2_naming_the_word(home: SluiceHome) -> None:
    for words, named in ((["status=nope"], "'nope'"), (["backfill=x"], "backfill=x"),
                         (["--job", "a", "job=b"], "--job a and job=b")):
        result = await home.cli("runs", *words)
        assert result.code == 2, result
        assert named in result.stderr and "Traceback" not in result.stderr


def test_the_console_view_scope_is_the_same_parser() -> None:
    text = "failed job=etl_load node=worker-2 backfill=7 nightly"
    assert parse_view(f":runs {text}").run_filter == parse_run_filter(text) == RunFilter(
        statuses=("failed",), job="etl_load", node="worker-2", backfill_id=7, text="nightly")


def test_the_status_groups_are_made_of_run_statuses() -> None:
    assert set(STATUS_GROUPS["ended"]) == TERMINAL
    assert all(isinstance(status, RunStatus) for group in STATUS_GROUPS.values() for status in group)


_WORD = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=8)


@given(statuses=st.lists(st.sampled_from([s.value for s in RunStatus]), unique=True, max_size=3),
       job=st.none() | _WORD, node=st.none() | _WORD, backfill=st.none() | st.integers(1, 10**6))
def test_a_described_filter_parses_back_to_itself(statuses: list[str], job: str | None, node: str | None,
                                                   backfill: int | None) -> None:
    run_filter = RunFilter(statuses=tuple(statuses), job=job, node=node, backfill_id=backfill)
    assert parse_run_filter(describe_filter(run_filter)) == run_filter
