"""A one-line footer that fits the terminal: the screen's main keys, then `?` and `q`, which always show."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget

#: Actions the footer always ends with, whatever the width: the rest of the keys are in `?` help.
ALWAYS = (("?", "Keys", "app.help"), ("q", "Quit", "app.quit"))
GAP = "  "
KEY_STYLE = Style(bold=True, reverse=True)


def fit_keys(keys: list[tuple[str, str]], width: int) -> Text:
    """`keys` in order as far as they fit in `width`, skipping those that do not, then the ALWAYS keys."""
    tail = GAP.join(f"{key} {label}" for key, label, _ in ALWAYS)
    room = width - len(tail) - 1  # a cell of margin on the left
    shown: list[tuple[str, str]] = []
    for key, label in keys:
        cost = len(key) + 1 + len(label) + len(GAP)
        if cost <= room:
            shown.append((key, label))
            room -= cost
    line = Text(" ")
    for key, label in [*shown, *((key, label) for key, label, _ in ALWAYS)]:
        line.append(f"{key}", style=KEY_STYLE)
        line.append(f" {label}{GAP}")
    line.rstrip()
    return line


def screen_keys(screen: Screen[object]) -> list[tuple[str, str]]:
    """(key, label) of the footer-worthy bindings on `screen`: the screen's verbs, its focused widget's, the app's."""
    always = {action for _, _, action in ALWAYS} | {"help", "quit"}
    ranked: list[tuple[int, int, tuple[str, str]]] = []
    seen: set[str] = set()
    for order, (key, active) in enumerate(screen.active_bindings.items()):
        binding = active.binding
        if not binding.show or not active.enabled or binding.action in always or binding.action in seen:
            continue
        seen.add(binding.action)
        label = (binding.key_display or screen.app.get_key_display(binding) or key, binding.description)
        ranked.append((_rank(screen, active.node, binding), order, label))
    return [label for _, _, label in sorted(ranked)]


def _rank(screen: Screen[object], node: object, binding: Binding) -> int:
    """The screen's own verbs come first (its most specific class first), the focused widget's next, the app's last;
    the first are the last to be left out on a narrow terminal."""
    if node is screen.app:
        return 1000
    if node is not screen:
        return 500
    for depth, cls in enumerate(type(screen).__mro__):
        if binding in cls.__dict__.get("BINDINGS", ()):
            return depth
    return 400


class KeyFooter(Widget):
    """The screen's keys that fit in one line, then `? Keys` and `q Quit`, redrawn when the bindings change."""

    DEFAULT_CSS = """
    KeyFooter { dock: bottom; height: 1; background: $panel; }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, lambda _screen: self.refresh())

    def render(self) -> Text:
        return fit_keys(screen_keys(self.screen), self.size.width)
