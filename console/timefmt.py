"""Times for people, shared by the CLI and the console: in the operator's zone, the zone always marked.

The zone is SLUICE_TZ (an IANA name, `UTC` or `local`), else the system's local zone (TZ, then /etc/localtime).
Stored times and `--json` output stay ISO-8601 UTC; only what a person reads goes through here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scheduler.cron import validate_timezone
from scheduler.errors import UsageError

ENV = "SLUICE_TZ"
LOCALTIME = Path("/etc/localtime")
#: An abbreviation worth showing (CET, EST, AEDT); tzdata writes "+04" or "-03" for zones that have none.
_ABBREVIATION = re.compile(r"[A-Za-z]{2,6}")

#: The zone times are shown in; None is the C library's local rules, for a TZ that names no zone file.
Zone = tzinfo | None
#: The shapes of a shown time: full (the CLI), short (a table row), clock (events of the day).
Form = Literal["full", "short", "clock"]


def display_zone(environ: Mapping[str, str] | None = None) -> Zone:
    """The zone chosen by SLUICE_TZ, else the system's; UsageError naming SLUICE_TZ when it is not a zone."""
    env = os.environ if environ is None else environ
    return _zone(env.get(ENV, "").strip(), env.get("TZ"))


@lru_cache(maxsize=16)
def _zone(chosen: str, tz: str | None) -> Zone:
    # Cached on the variables it reads, so a changed environment (a test, `SLUICE_TZ=... sluice runs`) is honoured.
    if chosen.upper() == "UTC":
        return UTC
    if chosen and chosen.lower() != "local":
        try:
            return validate_timezone(chosen)
        except UsageError:
            raise UsageError(
                f"{ENV}={chosen!r} is not a time zone: expected an IANA name such as "
                '"Europe/Berlin", or "UTC", or "local" (the system zone)'
            ) from None
    return _local_zone(tz)


def _local_zone(tz: str | None) -> Zone:
    """The system zone as a zone file when one can be found, so every moment gets its own offset and name."""
    if tz is not None:
        name = tz.removeprefix(":")
        if not name or name.upper() == "UTC":
            return UTC
        if Path(name).is_absolute():
            return _from_file(Path(name))
        try:
            return ZoneInfo(name)
        # A POSIX rule such as "CET-1CEST": the C library knows it, zoneinfo does not.
        except (ZoneInfoNotFoundError, ValueError, OSError):
            return None
    target = str(LOCALTIME.resolve()) if LOCALTIME.is_symlink() else ""
    if "/zoneinfo/" in target:
        try:
            return ZoneInfo(target.split("/zoneinfo/", 1)[1])
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    return _from_file(LOCALTIME) if LOCALTIME.exists() else UTC  # glibc's rule: no /etc/localtime is UTC


def _from_file(path: Path) -> Zone:
    try:
        with path.open("rb") as handle:
            return ZoneInfo.from_file(handle, key=path.name)
    except (ValueError, OSError):
        return None


def zone_mark(moment: datetime) -> str:
    """How `moment` (already in the shown zone) marks its zone: the abbreviation, else the UTC offset."""
    name = moment.tzname() or ""
    if _ABBREVIATION.fullmatch(name):
        return name
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}" + (f"{rest:02d}" if rest else "")


def in_zone(moment: datetime, zone: Zone) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("times are shown from timezone-aware datetimes only")
    return moment.astimezone(zone)


def full_time(moment: datetime, zone: Zone) -> str:
    """`2026-12-01 14:03:07 CET`."""
    shown = in_zone(moment, zone)
    return f"{shown:%Y-%m-%d %H:%M:%S} {zone_mark(shown)}"


def short_time(moment: datetime, zone: Zone) -> str:
    """`12-01 14:03 CET`: a row's date and minute."""
    shown = in_zone(moment, zone)
    return f"{shown:%m-%d %H:%M} {zone_mark(shown)}"


def clock_time(moment: datetime, zone: Zone) -> str:
    """`14:03:07 CET`: a moment of today's work."""
    shown = in_zone(moment, zone)
    return f"{shown:%H:%M:%S} {zone_mark(shown)}"


def zoned_clock(moment: datetime) -> str:
    """`clock_time` in the operator's zone: what the engine writes into wait reasons for people."""
    return clock_time(moment, display_zone())


def parse_stored(text: str) -> datetime:
    """A stored ISO-8601 time (UTC, `Z` or an offset) as an aware datetime."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def shown(text: str | None, form: Form = "full") -> str:
    """A stored time as a person reads it in the operator's zone (SLUICE_TZ or the system's), or a dash."""
    if not text:
        return "-"
    return _FORMS[form](parse_stored(text), display_zone())


_FORMS = {"full": full_time, "short": short_time, "clock": clock_time}
