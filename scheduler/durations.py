"""Parse and format durations such as "30m", "1h30m", "45s", "2d"."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# re.ASCII: without it \d also matches other scripts' digits ("٥s"), which float() would quietly accept.
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", re.ASCII)
_BARE_SECONDS = re.compile(r"\d+(?:\.\d+)?", re.ASCII)
MAX_SECONDS = 366 * 86400.0
UNIT_FORMS = '"30s", "15m", "1h30m" or "2d"'


#: What may surround a duration: str.strip() alone would also drop control characters such as \x1f.
_BLANKS = " \t"


def parse_duration(text: str | int | float) -> float:
    """Seconds in a job file's duration: a string with units, or a number of seconds; raises ValueError."""
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise ValueError(f"expected a duration such as {UNIT_FORMS}")
    if isinstance(text, int | float):
        # Compared before float(): NaN fails, and an int past a float's range would raise OverflowError.
        if not 0 <= text <= MAX_SECONDS:
            raise ValueError(_out_of_range(text))
        return float(text)
    seconds = _with_units(text)
    if seconds is None:
        raise ValueError(f"{text!r} is not a duration: expected a number with a unit, such as {UNIT_FORMS}")
    if not 0 <= seconds <= MAX_SECONDS:
        raise ValueError(_out_of_range(text))
    return seconds


def parse_duration_option(text: str, above_zero: bool = False) -> float:
    """Seconds in a command-line value: a job file's forms, or bare seconds ("90", "0.5"); raises ValueError."""
    bare = _BARE_SECONDS.fullmatch(text.strip(_BLANKS))
    seconds = float(bare.group()) if bare else _with_units(text)
    if seconds is None:
        raise ValueError(f"{text!r} is not a duration: expected seconds such as \"90\", or a number with a "
                         f"unit such as {UNIT_FORMS}")
    if not 0 <= seconds <= MAX_SECONDS:
        raise ValueError(_out_of_range(text))
    if above_zero and seconds == 0:
        raise ValueError(f"{text!r} is too short: expected a duration above 0")
    return seconds


def _with_units(text: str) -> float | None:
    """Seconds in "1h 30m"-style text, or None if it is not made of number-unit parts."""
    compact = text.strip(_BLANKS).replace(" ", "")
    pos, seconds = 0, 0.0
    for match in _PART.finditer(compact):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return seconds if compact and pos == len(compact) else None


def _out_of_range(text: str | int | float) -> str:
    shown = repr(text) if len(repr(text)) <= 40 else repr(text)[:37] + "..."
    return f"{shown} is out of range: expected between 0 and 366 days"


def format_duration(seconds: float) -> str:
    """Compact human form: 95 -> "1m35s"."""
    if seconds < 1:
        return f"{int(seconds * 1000)}ms"
    whole = int(round(seconds))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
