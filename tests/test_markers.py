from __future__ import annotations

import time
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.markers import (
    MAX_CHECKPOINT_BYTES,
    MAX_MESSAGE_BYTES,
    CheckpointMarker,
    Marker,
    ProgressMarker,
    scan_lines,
)


def markers_of(data: bytes, base_offset: int = 0) -> list[Marker]:
    return scan_lines(data, base_offset)[0]


# --- checkpoints ------------------------------------------------------------------------------------


def test_checkpoint_line_yields_its_value_and_line_offset() -> None:
    data = b"hello\n::checkpoint::row-42\n"
    assert scan_lines(data, 0) == ([CheckpointMarker("row-42", 6)], len(data))


def test_offsets_are_stream_offsets_shifted_by_base_offset() -> None:
    data = b"x\n::checkpoint::a\n"
    assert scan_lines(data, 1000) == ([CheckpointMarker("a", 1002)], 1000 + len(data))


def test_checkpoint_value_is_kept_verbatim_including_json_with_spaces() -> None:
    value = '{"cursor": "2024-01-01 00:00", "page": 3}  '
    assert markers_of(f"::checkpoint::{value}\n".encode()) == [CheckpointMarker(value, 0)]


def test_empty_checkpoint_value_is_still_a_checkpoint() -> None:
    assert markers_of(b"::checkpoint::\n") == [CheckpointMarker("", 0)]


def test_crlf_line_ending_is_stripped_from_the_value() -> None:
    assert markers_of(b"::checkpoint::abc\r\n::progress::1/2\r\n") == [
        CheckpointMarker("abc", 0),
        ProgressMarker(1.0, 2.0, None, 19),
    ]


def test_only_one_trailing_carriage_return_is_stripped() -> None:
    assert markers_of(b"::checkpoint::abc\r\r\n") == [CheckpointMarker("abc\r", 0)]


def test_invalid_utf8_in_a_value_is_replaced_not_an_error() -> None:
    assert markers_of(b"::checkpoint::a\xffb\n") == [CheckpointMarker("a\ufffdb", 0)]


def test_unicode_value_is_decoded() -> None:
    assert markers_of("::checkpoint::café ☕\n".encode()) == [CheckpointMarker("café ☕", 0)]


@pytest.mark.parametrize(
    "line",
    [
        b" ::checkpoint::x",
        b"\t::progress::1/2",
        b"log: ::checkpoint::x",
        b"::Checkpoint::x",
        b"::checkpoint:x",
        b"::checkpoint",
        b"::progress:1/2",
        b"",
    ],
)
def test_markers_must_start_the_line_exactly(line: bytes) -> None:
    assert markers_of(line + b"\n") == []


def test_long_checkpoint_value_is_truncated_to_the_limit_but_still_counted() -> None:
    value = b"v" * (MAX_CHECKPOINT_BYTES + 10)
    [marker] = markers_of(b"::checkpoint::" + value + b"\n")
    assert isinstance(marker, CheckpointMarker)
    assert marker.value == "v" * MAX_CHECKPOINT_BYTES


def test_checkpoint_value_at_exactly_the_limit_is_kept_whole() -> None:
    value = "v" * MAX_CHECKPOINT_BYTES
    assert markers_of(f"::checkpoint::{value}\n".encode()) == [CheckpointMarker(value, 0)]


def test_truncation_does_not_split_a_utf8_character() -> None:
    # "€" is three bytes; put one across the limit so a plain byte cut would leave half of it.
    value = "a" * (MAX_CHECKPOINT_BYTES - 1) + "€" * 10
    [marker] = markers_of(f"::checkpoint::{value}\n".encode())
    assert isinstance(marker, CheckpointMarker)
    assert marker.value == "a" * (MAX_CHECKPOINT_BYTES - 1)
    assert "\ufffd" not in marker.value


def test_very_long_lines_are_scanned_quickly_and_the_next_marker_is_found() -> None:
    noise = b"x" * (8 * 1024 * 1024)
    data = noise + b"\n::checkpoint::" + noise + b"\n::progress::1/3 " + noise + b"\n::checkpoint::end\n"
    started = time.perf_counter()
    found, consumed = scan_lines(data, 0)
    assert time.perf_counter() - started < 1.0
    assert consumed == len(data)
    assert [type(marker) for marker in found] == [CheckpointMarker, ProgressMarker, CheckpointMarker]
    checkpoint, progress, last = found
    assert isinstance(checkpoint, CheckpointMarker) and len(checkpoint.value) == MAX_CHECKPOINT_BYTES
    assert isinstance(progress, ProgressMarker) and progress.message is not None
    assert len(progress.message) == MAX_MESSAGE_BYTES
    assert last == CheckpointMarker("end", len(data) - len(b"::checkpoint::end\n"))


# --- progress ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"::progress::3/10", (3.0, 10.0, None)),
        (b"::progress::0/1", (0.0, 1.0, None)),
        (b"::progress::2.5/7.25", (2.5, 7.25, None)),
        (b"::progress::.5/1.", (0.5, 1.0, None)),
        (b"::progress::12/10", (12.0, 10.0, None)),
        (b"::progress::3/10 copying users", (3.0, 10.0, "copying users")),
        (b"::progress::3/10\tcopying", (3.0, 10.0, "copying")),
        (b"::progress::3/10   spaced out  ", (3.0, 10.0, "spaced out")),
        (b"::progress::3/10 ", (3.0, 10.0, None)),
    ],
)
def test_progress_line_is_parsed(line: bytes, expected: tuple[float, float, str | None]) -> None:
    assert markers_of(line + b"\n") == [ProgressMarker(*expected, 0)]


@pytest.mark.parametrize(
    "line",
    [
        b"::progress::",
        b"::progress::3",
        b"::progress::3/",
        b"::progress::/10",
        b"::progress::a/b",
        b"::progress::3/0",
        b"::progress::3/0.0",
        b"::progress::-1/10",
        b"::progress::1/-10",
        b"::progress::nan/10",
        b"::progress::1/inf",
        b"::progress::1e3/1e4",
        b"::progress::1_000/2_000",
        b"::progress::3/10x",
        b"::progress::3/10/20",
        b"::progress:: 3/10",
        b"::progress::1/" + b"9" * 1000,
    ],
)
def test_malformed_progress_is_ignored(line: bytes) -> None:
    assert scan_lines(line + b"\nnext\n", 0) == ([], len(line) + 6)


def test_progress_message_with_invalid_utf8_is_replaced() -> None:
    assert markers_of(b"::progress::1/2 caf\xe9\n") == [ProgressMarker(1.0, 2.0, "caf\ufffd", 0)]


# --- complete lines and the consumed offset ---------------------------------------------------------


def test_incomplete_last_line_is_not_scanned_or_consumed() -> None:
    data = b"::checkpoint::a\n::checkpoint::b"
    assert scan_lines(data, 50) == ([CheckpointMarker("a", 50)], 50 + 16)


def test_no_complete_line_consumes_nothing() -> None:
    assert scan_lines(b"::checkpoint::partial", 7) == ([], 7)
    assert scan_lines(b"", 7) == ([], 7)


def test_lone_carriage_return_does_not_end_a_line() -> None:
    data = b"::checkpoint::a\r::checkpoint::b\n"
    assert scan_lines(data, 0) == ([CheckpointMarker("a\r::checkpoint::b", 0)], len(data))


def test_marker_split_across_two_reads_is_counted_once() -> None:
    first = b"log\n::checkp"
    found, consumed = scan_lines(first, 0)
    assert (found, consumed) == ([], 4)
    second = b"oint::42\n"
    stream = first + second
    found, consumed = scan_lines(stream[consumed:], consumed)
    assert (found, consumed) == ([CheckpointMarker("42", 4)], len(stream))


def test_rereading_from_the_stored_offset_after_a_reconnect_counts_nothing_twice() -> None:
    stream = b"::progress::1/4\n::checkpoint::a\n::progress::2/4\n"
    found, consumed = scan_lines(stream[:20], 0)
    assert found == [ProgressMarker(1.0, 4.0, None, 0)]
    # The connection drops; the caller reconnects and reads everything from its stored offset again.
    found, consumed = scan_lines(stream[consumed:], consumed)
    assert found == [CheckpointMarker("a", 16), ProgressMarker(2.0, 4.0, None, 32)]
    assert scan_lines(stream[consumed:], consumed) == ([], len(stream))


def test_accepts_a_bytearray_buffer() -> None:
    buffer = bytearray(b"::checkpoint::a\n")
    assert scan_lines(buffer, 0) == ([CheckpointMarker("a", 0)], 16)  # type: ignore[arg-type]


# --- incremental scanning equals a single scan ------------------------------------------------------

_LINES = st.one_of(
    st.builds(lambda v: b"::checkpoint::" + v.encode(), st.text(max_size=20)),
    st.builds(
        lambda d, t, m: f"::progress::{d}/{t}{m}".encode(),
        st.integers(0, 1000),
        st.integers(-2, 1000),
        st.sampled_from(["", " msg", " two words", "\textra", "x"]),
    ),
    st.sampled_from([b"", b"plain log", b" ::checkpoint::indented", b"::progress::bad", b"\r", b"::"]),
    st.binary(max_size=30),
)


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(_LINES, max_size=30))
    endings = draw(st.lists(st.sampled_from([b"\n", b"\r\n"]), min_size=len(lines), max_size=len(lines)))
    tail = draw(st.sampled_from([b"", b"::checkpoint::unfinished", b"half a line"]))
    return b"".join(line + end for line, end in zip(lines, endings, strict=True)) + tail


@settings(max_examples=300, deadline=None)
@given(stream=streams(), data=st.data())
def test_feeding_chunks_incrementally_yields_the_same_markers_as_one_scan(
    stream: bytes, data: st.DataObject
) -> None:
    whole, whole_consumed = scan_lines(stream, 0)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    bounds = [0, *cuts, len(stream)]
    chunks = [stream[start:end] for start, end in pairwise(bounds)]
    pending = b""
    consumed = 0
    found: list[Marker] = []
    for chunk in chunks:
        # The caller keeps the unconsumed tail, appends what arrived and scans from its stored offset.
        pending += chunk
        markers, new_consumed = scan_lines(pending, consumed)
        found.extend(markers)
        pending = pending[new_consumed - consumed :]
        consumed = new_consumed
    assert found == whole
    assert consumed == whole_consumed
    assert whole_consumed == stream.rfind(b"\n") + 1


@settings(max_examples=200, deadline=None)
@given(stream=streams(), rereads=st.lists(st.integers(0, 400), max_size=8))
def test_overlapping_rereads_from_the_stored_offset_never_double_count(
    stream: bytes, rereads: list[int]
) -> None:
    whole, _ = scan_lines(stream, 0)
    consumed = 0
    found: list[Marker] = []
    for length in [*rereads, len(stream)]:
        # Each read starts at the stored offset and may stop anywhere, even mid-line.
        markers, consumed = scan_lines(stream[consumed : consumed + length], consumed)
        found.extend(markers)
    markers, consumed = scan_lines(stream[consumed:], consumed)
    found.extend(markers)
    assert found == whole
