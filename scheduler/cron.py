"""Cron schedules evaluated in an IANA time zone: which ticks are due since the last one.

Daylight saving follows classic cron (Vixie/cronie) so a daily job neither skips a day nor runs twice:
- spring forward: a schedule that names the skipped hour ("0 2 * * *", "*/20 2 * * *") fires once, at
  the first minute after the jump (03:00 in Europe/Paris); other ticks in that hour just do not exist.
- fall back: a repeated wall-clock time fires once for a fixed-time schedule ("0 2 * * *"), and at both
  occurrences when the minute or hour field starts with "*" ("30 * * * *", "*/15 * * * *"), so an
  hourly job misses no hour.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter

from .errors import UsageError

_ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_EXPECTED = (
    'expected five fields (minute hour day-of-month month day-of-week) such as "0 2 * * *", '
    "or one of @hourly, @daily, @weekly, @monthly, @yearly"
)
# croniter's H (hashed) needs an id Sluice does not pass, and R (random) would move ticks on every call.
_HASHED = re.compile(r"[hr](\(\d+-\d+\))?(/\d+)?", re.ASCII | re.IGNORECASE)
# ASCII whitespace only, as croniter splits: a no-break space inside a field must fail, not split it.
_FIELD = re.compile(r"\S+", re.ASCII)
# Any fixed instant works: it only proves an expression matches some date within croniter's 50-year search.
_PROBE = datetime(2000, 1, 1, tzinfo=UTC)


def validate_cron(expression: str) -> None:
    """UsageError unless `expression` is a five-field cron expression (or @alias) that fires at least once."""
    normal = _normalise(expression)
    try:
        croniter(normal, _PROBE).get_next(datetime)
    except CroniterBadDateError:
        raise UsageError(
            f"schedule {expression!r} never fires: no date matches it (check day and month)"
        ) from None


def validate_timezone(name: str) -> ZoneInfo:
    """The zone named `name`; UsageError unless it is an IANA time zone name."""
    try:
        return ZoneInfo(name)
    # OSError: a folder of the tz database ("Europe") or a name too long for the file system.
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise UsageError(
            f'timezone {name!r} is not a known IANA time zone: expected a name such as "UTC" or "Europe/Paris"'
        ) from None


def due_ticks(
    expression: str,
    timezone: str,
    last_tick: datetime | None,
    now: datetime,
    catchup: bool,
    limit: int = 1000,
) -> list[datetime]:
    """Aware UTC ticks in (last_tick, now], oldest first.

    Never scheduled (last_tick None) or catchup False: only the latest tick (at most one), so a new or
    long-paused job does not flood the queue. catchup True: every missed tick, but only the OLDEST
    `limit` of them; the caller records the last one as its new last_tick and gets the rest next pass.
    Reordering (say, newest first) is the caller's choice, not this function's.
    """
    normal = _normalise(expression)
    zone = validate_timezone(timezone)
    now = _utc(now, "now")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive int, not {limit!r}")
    if last_tick is None or not catchup:
        latest = _latest_at_or_before(normal, zone, now)
        if latest is None or (last_tick is not None and latest <= _utc(last_tick, "last_tick")):
            return []
        return [latest]
    ticks: list[datetime] = []
    for tick in _ticks_after(normal, zone, _utc(last_tick, "last_tick")):
        if tick > now:
            break
        ticks.append(tick)
        if len(ticks) == limit:
            break
    return ticks


def next_tick(expression: str, timezone: str, now: datetime) -> datetime | None:
    """The first UTC tick strictly after `now` (DST handled as due_ticks does), or None if it never fires again."""
    return next(_ticks_after(_normalise(expression), validate_timezone(timezone), _utc(now, "now")), None)


def _normalise(expression: str) -> str:
    """The five fields of `expression` (aliases expanded) joined by single spaces; UsageError if invalid."""
    if not isinstance(expression, str):
        raise UsageError(f"schedule {expression!r} is not a cron expression: {_EXPECTED}")
    text = expression.strip()
    fields = _FIELD.findall(_ALIASES.get(text.lower(), text))
    if len(fields) != 5:
        extra = "; seconds and years fields are not supported" if len(fields) in (6, 7) else ""
        raise UsageError(f"schedule {expression!r} has {len(fields)} fields: {_EXPECTED}{extra}")
    if any(_HASHED.fullmatch(part) for field in fields for part in field.split(",")):
        raise UsageError(f"schedule {expression!r} uses H or R, which Sluice does not support: {_EXPECTED}")
    normal = " ".join(fields)
    try:
        croniter.expand(normal)
    except CroniterError as error:
        raise UsageError(
            f"schedule {expression!r} is not a valid cron expression ({error}): {_EXPECTED}"
        ) from None
    return normal


def _utc(moment: datetime, name: str) -> datetime:
    """`moment` in UTC; ValueError if naive, since a naive time would silently mean the host's zone."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return moment.astimezone(UTC)


def _fixed_time(normal: str) -> bool:
    """Whether DST fall-back should fire the schedule once: neither minute nor hour starts with "*"."""
    minute, hour = normal.split(" ")[:2]
    return not (minute.startswith("*") or hour.startswith("*"))


def _repeated(tick: datetime, zone: ZoneInfo) -> bool:
    """Whether `tick` is the second occurrence of a wall-clock time repeated by a fall-back."""
    local = tick.astimezone(zone)
    return local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()


def _ticks_after(normal: str, zone: ZoneInfo, start: datetime) -> Iterator[datetime]:
    """UTC ticks strictly after `start`, oldest first, DST repeats handled as the module says."""
    skip_repeats = _fixed_time(normal)
    it = croniter(normal, start.astimezone(zone))
    while True:
        try:
            tick = it.get_next(datetime).astimezone(UTC)
        except CroniterBadDateError:
            return
        if skip_repeats and _repeated(tick, zone):
            continue
        yield tick


def _latest_at_or_before(normal: str, zone: ZoneInfo, moment: datetime) -> datetime | None:
    """The newest UTC tick <= `moment`, or None if there is none within croniter's search window."""
    skip_repeats = _fixed_time(normal)
    # croniter's get_prev is strictly before its start; starting a minute late and stepping back past
    # anything after `moment` includes a tick exactly at `moment` without relying on float rounding.
    it = croniter(normal, (moment + timedelta(minutes=1)).astimezone(zone))
    while True:
        try:
            previous: datetime = it.get_prev(datetime)
            tick = previous.astimezone(UTC)
        except CroniterBadDateError:
            return None
        if tick > moment or (skip_repeats and _repeated(tick, zone)):
            continue
        return tick
