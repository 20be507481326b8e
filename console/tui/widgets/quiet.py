"""Redraw a Static only when its content changes: polls every second must not repaint an idle screen."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static


def update_static(static: Static, content: Any) -> None:
    if static.content != content:
        static.update(content)
