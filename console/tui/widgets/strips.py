"""Lines for the Line API widgets, every segment with a style: Textual's NO_COLOR filter reads each segment's
colour and dies on a segment whose style is None (what Strip.blank, padding and unstyled Text give by default)."""

from __future__ import annotations

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

#: The style of padding and unstyled text: no attributes, but a Style, so filters can read it.
PLAIN = Style.null()


def blank(width: int, style: Style = PLAIN) -> Strip:
    """An empty line `width` cells wide."""
    return Strip.blank(width, style)


def text_line(text: Text, console: Console, width: int, start: int = 0) -> Strip:
    """`text` as one line of exactly `width` cells from cell `start` (cut or padded)."""
    segments = [
        Segment(segment.text, segment.style or PLAIN, segment.control) for segment in text.render(console)
    ]
    return Strip(segments, text.cell_len).crop_extend(start, start + width, PLAIN)


def note_line(note: str, console: Console, width: int) -> Strip:
    """A dim one-line note such as "loading…", in place of rows that are not there."""
    return text_line(Text(note, style="dim", no_wrap=True), console, width)
