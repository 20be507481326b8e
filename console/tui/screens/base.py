"""What every Sluice screen shares: a polling timer paused while hidden, the read-only guard, the banner."""

from __future__ import annotations

from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer

from ..actions import MUTATIONS
from ..ports import AppPort, EnginePort, app_port


class SluiceScreen(Screen[None]):
    """A screen that polls the engine every poll interval while it is shown, and only then."""

    #: Title shown in the help screen.
    VIEW_TITLE = "Sluice"
    # Declared here as well as on the app so every footer lists them before the screen's own keys.
    BINDINGS = [
        Binding("question_mark", "app.help", "Keys", key_display="?"),
        Binding("q", "app.quit", "Quit"),
    ]

    DEFAULT_CSS = """
    SluiceScreen .panel-title { height: 1; background: $boost; text-style: bold; padding: 0 1; }
    SluiceScreen .status-line { height: 1; color: $text-muted; padding: 0 1; }
    """

    _poll_timer: Timer | None = None

    @property
    def sluice(self) -> AppPort:
        return app_port(self.app)

    @property
    def engine(self) -> EnginePort:
        return self.sluice.engine

    def on_screen_resume(self) -> None:
        if self._poll_timer is None:
            self._poll_timer = self.set_interval(self.sluice.poll_interval, self._tick, name="poll")
        else:
            self._poll_timer.resume()
        self.poll()

    def on_screen_suspend(self) -> None:
        if self._poll_timer is not None:
            self._poll_timer.pause()

    def _tick(self) -> None:
        if not self.sluice.frozen:
            self.poll()

    def poll(self) -> None:
        """Start the screen's refresh worker; subclasses override."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in MUTATIONS and self.sluice.readonly)

    def help_keys(self) -> list[tuple[str, str]]:
        """(keys, description) of the Sluice bindings active here (not Textual's generic scrolling keys)."""
        ours: dict[tuple[str, str], list[str]] = {}
        for key, active in self.active_bindings.items():
            binding = active.binding
            if (active.node is self.app or binding.action.startswith("app.")
                    or (binding.action, binding.description) not in _console_bindings(active.node)):
                continue
            ours.setdefault((binding.action, binding.description), []).append(binding.key_display or key)
        return [("/".join(keys), description) for (_, description), keys in ours.items()]


def _console_bindings(node: object) -> set[tuple[str, str]]:
    """(action, description) of the bindings declared by Sluice's own classes in `node`'s hierarchy."""
    found = set()
    for cls in type(node).__mro__:
        if cls.__module__.startswith("console."):
            for binding in cls.__dict__.get("BINDINGS", []):
                if isinstance(binding, Binding):
                    found.add((binding.action, binding.description))
    return found
