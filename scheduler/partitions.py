"""Partition keys for backfills and scheduled runs: daily, hourly, monthly and list."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime

from .errors import UsageError

TIME_KINDS = ("daily", "hourly", "monthly")
KINDS = (*TIME_KINDS, "list")

_FORMATS = {"daily": "YYYY-MM-DD", "hourly": "YYYY-MM-DDTHH", "monthly": "YYYY-MM"}
# re.ASCII: without it \d also matches other scripts' digits, which int() accepts but no key should contain.
_PATTERNS = {
    "daily": re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII),
    # A space or a lowercase t is what people type; the key is always written back with "T".
    "hourly": re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2})", re.ASCII),
    "monthly": re.compile(r"(\d{4})-(\d{2})", re.ASCII),
}
# Error messages list at most this many declared values so a long list does not bury the point.
_SHOWN_VALUES = 20


def validate_key(kind: str, key: str, *, arg_name: str = "partition key") -> str:
    """The normalised form of `key` for `kind`; UsageError naming `arg_name` if malformed."""
    _check_kind(kind)
    if kind == "list":
        # Membership needs the declared values, which list_values checks; here only emptiness is knowable.
        if not isinstance(key, str) or not key:
            raise UsageError(
                f"{arg_name} {key!r} is not a list partition: expected one of the job's declared values"
            )
        return key
    return _format(kind, _ordinal(kind, key, arg_name))


def partition_range(
    kind: str, start: str, end: str, cap: int, *, arg_names: tuple[str, str] = ("--from", "--to")
) -> list[str]:
    """Every key from `start` to `end` inclusive, oldest first; UsageError if the range is bad or over `cap`."""
    _check_kind(kind)
    from_name, to_name = arg_names
    if kind == "list":
        raise UsageError(
            f"list partitions have no order to range over: name the values instead of {from_name}/{to_name}"
        )
    first = _ordinal(kind, start, from_name)
    last = _ordinal(kind, end, to_name)
    if first > last:
        raise UsageError(f"{from_name} {_format(kind, first)} is after {to_name} {_format(kind, last)}")
    # Ordinals count partitions, so the size is known before a single key is built: a 1,000-year
    # hourly range fails here instead of allocating millions of strings first.
    count = last - first + 1
    if count > cap:
        raise UsageError(
            f"{from_name} {_format(kind, first)} {to_name} {_format(kind, last)} would create {count:,} "
            f"{kind} partitions, more than the cap of {cap:,}; narrow the range or raise max_partitions in the job file"
        )
    return [_format(kind, ordinal) for ordinal in range(first, last + 1)]


def list_values(spec_values: list[str], requested: list[str] | None) -> list[str]:
    """The requested list partitions (all declared ones when None), duplicates dropped keeping the first."""
    declared = _unique(spec_values)
    if requested is None:
        return declared
    known = set(declared)
    unknown = _unique(value for value in requested if value not in known)
    if unknown:
        shown = ", ".join(repr(value) for value in declared[:_SHOWN_VALUES])
        if len(declared) > _SHOWN_VALUES:
            shown += f" and {len(declared) - _SHOWN_VALUES} more"
        names = ", ".join(repr(value) for value in unknown)
        noun = "value" if len(unknown) == 1 else "values"
        raise UsageError(f"unknown partition {noun} {names}: expected values declared by the job: {shown}")
    # The operator's order is kept: it is the order they asked the runs to be queued in.
    return _unique(requested)


def key_for_time(kind: str, moment: datetime) -> str:
    """The key a scheduled tick at `moment` fills, read in `moment`'s own time zone."""
    _check_kind(kind)
    if kind == "list":
        raise UsageError(
            "a job with list partitions cannot be scheduled by time: its partitions are not dates"
        )
    if moment.tzinfo is None or moment.utcoffset() is None:
        # A naive time would silently mean the host's zone; the caller knows the job's zone, so it must say.
        raise ValueError("key_for_time needs a timezone-aware datetime")
    if kind == "daily":
        return moment.date().isoformat()
    if kind == "hourly":
        return f"{moment.date().isoformat()}T{moment.hour:02d}"
    return f"{moment.year:04d}-{moment.month:02d}"


def _check_kind(kind: str) -> None:
    """UsageError unless `kind` is one of KINDS."""
    if kind not in KINDS:
        raise UsageError(f"partition kind {kind!r} is not supported: expected one of {', '.join(KINDS)}")


def _ordinal(kind: str, key: str, arg_name: str) -> int:
    """Consecutive integer for a time key, so ranges are arithmetic; UsageError if malformed."""
    article = "an" if kind == "hourly" else "a"
    expected = f"{arg_name} {key!r} is not {article} {kind} partition: expected {_FORMATS[kind]}"
    match = _PATTERNS[kind].fullmatch(key.strip()) if isinstance(key, str) else None
    if match is None:
        raise UsageError(expected)
    numbers = [int(group) for group in match.groups()]
    if kind == "monthly":
        year, month = numbers
        if not (year >= 1 and 1 <= month <= 12):
            raise UsageError(expected)
        return year * 12 + (month - 1)
    try:
        day = date(*numbers[:3])
    except ValueError:
        raise UsageError(expected) from None
    if kind == "daily":
        return day.toordinal()
    hour = numbers[3]
    if hour > 23:
        raise UsageError(expected)
    return day.toordinal() * 24 + hour


def _format(kind: str, ordinal: int) -> str:
    """The canonical key for an ordinal made by _ordinal."""
    if kind == "daily":
        return date.fromordinal(ordinal).isoformat()
    if kind == "hourly":
        days, hour = divmod(ordinal, 24)
        return f"{date.fromordinal(days).isoformat()}T{hour:02d}"
    year, month0 = divmod(ordinal, 12)
    return f"{year:04d}-{month0 + 1:02d}"


def _unique(values: Iterable[str]) -> list[str]:
    """`values` without repeats, first occurrence kept."""
    return list(dict.fromkeys(values))
