"""Save one attempt's stream to a file: every byte as the log store holds it, read and written in chunks."""

from __future__ import annotations

import os
from pathlib import Path

from textual.widget import Widget

from ..ports import EnginePort
from ..screens.prompt import PromptScreen

CHUNK = 1 << 20


def default_path(run_id: int, attempt: int, stream: str) -> str:
    """Where a save goes unless the operator types another path: the current directory."""
    return f"./sluice-run-{run_id}-attempt-{attempt}-{stream}.log"


def save_stream(engine: EnginePort, run_id: int, attempt: int, stream: str, target: str) -> tuple[int, Path]:
    """Copy the stream's stored bytes (as long as it is now) to `target`; returns (bytes written, absolute path).

    Raises OSError when the path cannot be written; a file begun by this save is removed again then."""
    path = Path(target).expanduser()
    size = engine.log_size(run_id, attempt, stream)
    created = not path.exists()
    written = 0
    try:
        with open(path, "wb") as handle:
            while written < size:
                data = engine.read_log(run_id, attempt, stream, written, min(CHUNK, size - written))
                if not data:
                    break
                handle.write(data)
                written += len(data)
    except OSError:
        if created and path.is_file():
            os.unlink(path)  # a half-written copy would pass for the log
        raise
    return written, path.absolute()


def ask_and_save(view: Widget, engine: EnginePort, run_id: int, attempt: int, stream: str) -> None:
    """Ask where (the current directory by default), then save off the UI thread and say how much went where."""

    def save(target: str) -> None:
        try:
            written, path = save_stream(engine, run_id, attempt, stream, target)
        except OSError as exc:
            view.app.call_from_thread(view.notify, f"cannot save to {target}: {exc.strerror or exc}",
                                      severity="error")
            return
        view.app.call_from_thread(view.notify, f"saved {written:,} bytes to {path}")

    def chosen(target: str | None) -> None:
        if target and target.strip():
            view.run_worker(lambda: save(target.strip()), thread=True, group="log-save")

    hint = f"save the whole {stream} of attempt {attempt} (as stored) to this file · esc: cancel"
    view.app.push_screen(PromptScreen("save to", hint, default_path(run_id, attempt, stream)), chosen)
