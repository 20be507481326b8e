"""Engine calls that finish even when the worker awaiting them is cancelled.

Workers are cancelled when a newer exclusive one starts or their screen closes. The engine shares one SQLite
connection, and a call cancelled between its BEGIN and COMMIT would leave that connection inside a
transaction, so every engine call from a worker runs as its own task, shielded from the worker's cancel."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable
from typing import Any, TypeVar

from scheduler.errors import SluiceError

T = TypeVar("T")

#: Errors a refresh reports in a notification instead of stopping the console.
QUERY_ERRORS = (SluiceError, sqlite3.Error, OSError)


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


async def shielded(call: Awaitable[T]) -> T:
    """The result of `call`, which runs to its end even if the caller is cancelled meanwhile."""
    task = asyncio.ensure_future(call)
    task.add_done_callback(_retrieve)
    return await asyncio.shield(task)
