"""The text a running Textual app shows, read from its screenshot: what an operator would read on the terminal."""

from __future__ import annotations

import html
import re
from collections import defaultdict

from textual.app import App

#: A run of text in the screenshot: its x in pixels, its row, its characters.
_TEXT = re.compile(r'<text [^>]*\bx="([\d.]+)"[^>]*clip-path="url\(#[\w-]+-line-(\d+)\)"[^>]*>([^<]*)</text>')
#: Rich's SVG export puts one cell every 12.2 pixels after a one-cell margin.
CELL = 12.2


def screen_lines(app: App[object]) -> list[str]:
    """The screen's rows as plain text, top to bottom, each character in its column (styles dropped)."""
    rows: dict[int, dict[int, str]] = defaultdict(dict)
    for x, number, text in _TEXT.findall(app.export_screenshot()):
        rows[int(number)][round(float(x) / CELL) - 1] = html.unescape(text).replace("\xa0", " ")
    lines = []
    for number in range(max(rows, default=-1) + 1):
        line = ""
        for column, text in sorted(rows[number].items()):
            line = line.ljust(column) + text
        lines.append(line.rstrip())
    return lines


def screen_text(app: App[object]) -> str:
    """The whole screen as one string of lines."""
    return "\n".join(screen_lines(app))
