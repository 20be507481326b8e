"""Values and TOML text for fuzzing the loaders and the CLI: shared by the bad-input test modules."""

from __future__ import annotations

import math
import re
from typing import Any

from hypothesis import strategies as st


def toml_string(text: str) -> str:
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        text = repr(value)
        return text if re.search(r"[.eE]", text) else text + ".0"
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return "{" + ", ".join(f"{toml_string(key)} = {toml_value(item)}" for key, item in value.items()) + "}"


def toml_document(document: dict[str, Any]) -> str:
    return "".join(f"{toml_string(key)} = {toml_value(value)}\n" for key, value in document.items())


INTS = st.integers(-(2**63), 2**63 - 1) | st.sampled_from([0, 1, -1, 85, 255, 256, 65535, 65536, 10**6 + 1])
SCALARS = st.booleans() | INTS | st.floats() | st.text(max_size=12)
ANY_VALUE = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
DURATIONS = (st.sampled_from(["30s", "15m", "1h30m", "2d", "10ms", "1.5h", "1h 30m", "366d", "367d", "5 parsecs",
                              "", "m", "3", "-1s", "1e5s", "٥s"])
             | st.text(alphabet="0123456789.smhd -", max_size=8) | INTS | st.floats())
CRON = (st.lists(st.sampled_from(["*", "0", "*/5", "1-5", "L", "W", "15W", "MON#1", "5#6", "H", "?", "60", "1,2",
                                  "JAN", "@daily", "@reboot", "31", "2", "*/0", "7", "SUN-SAT", "H(0-5)"]),
                 max_size=7).map(" ".join)
        | st.text(max_size=15))
NAMES = st.sampled_from(["daily", "x", "a-b", "a.b", "a b", "", "1", "_x", "x" * 129]) | st.text(max_size=8)
