"""Write SVG screenshots of every console screen, taken on the demo's live mix: `python -m console.demo.screenshots DIR`.

For docs/ and the README; it drives the console with its own keys, as an operator would."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import cast

from textual.pilot import Pilot

from ..tui.app import SluiceApp, create_app
from .demo import DemoWorld

SIZE = (100, 30)
Step = tuple[str, Callable[[Pilot[int]], Awaitable[None]]]


def _keys(*keys: str, wait: float = 1.5) -> Callable[[Pilot[int]], Awaitable[None]]:
    async def press(pilot: Pilot[int]) -> None:
        await pilot.press(*keys)
        await pilot.pause(wait)

    return press


def _view(command: str, *keys: str, wait: float = 2.0) -> Callable[[Pilot[int]], Awaitable[None]]:
    async def open_view(pilot: Pilot[int]) -> None:
        await cast(SluiceApp, pilot.app).open_view(command)
        await pilot.pause(0.5)
        await pilot.press(*keys)
        await pilot.pause(wait)

    return open_view


STEPS: list[Step] = [
    ("overview", _keys(wait=3.0)),
    ("runs", _keys("2")),
    ("run-log", _view("runs job=long_export", "enter", wait=4.0)),
    ("run-checkpoints", _keys("t", wait=0.5)),
    ("dead-letters", _keys("escape", "4", wait=6.0)),
    ("backfill-plan", _keys("3", "n", "enter", "down", "enter", "tab", "tab", *"2026-09-01", "tab", *"2026-09-30",
                            "tab", "3", "enter")),
    ("backfill-confirm", _keys("f6", wait=0.5)),
    ("backfill-grid", _keys("y", wait=5.0)),
    ("events", _keys("5")),
    ("help", _keys("question_mark", wait=0.5)),
]


async def capture(out: Path) -> list[Path]:
    with tempfile.TemporaryDirectory(prefix="sluice-shots-") as folder:
        world = DemoWorld(Path(folder))
        written = []
        try:
            await world.start()
            await world.submit_mix()
            app = create_app(world.home)
            async with app.run_test(size=SIZE) as pilot:
                for name, step in STEPS:
                    await step(pilot)
                    path = out / f"console-{name}.svg"
                    path.write_text(app.export_screenshot(title=f"sluice console: {name}"), encoding="utf-8")
                    written.append(path)
        finally:
            await world.close()
        return written


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "docs")
    out.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(capture(out)):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
