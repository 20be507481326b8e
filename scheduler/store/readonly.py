"""The store opened read-only at the SQLite level, for views: no migration, no WAL switch, and no file created,
changed or chmodded, so a user who may only read a home can watch it.

SQLite reads a WAL-mode store without write access only while its -wal and -shm files exist and are readable,
or through an `immutable` connection (https://sqlite.org/wal.html, "Read-Only Databases"). So: with a -wal
present (a writer is live, or one crashed) we open `mode=ro` and SQLite follows that writer by itself. Without
one, everything committed is in the main file, and we open `immutable=1`, which creates nothing (`mode=ro` would
create a -wal and -shm wherever the folder is writable, and leave them behind). An immutable connection notices
no change, so before each read the files are compared with what was opened, and a writer that came since (its
-wal appeared) or a changed file means a fresh connection. (A writer folds its WAL into the main file only at a
checkpoint, at its close or every thousand pages; a read overlapping the very first one can fail, and the next
read reconnects.) A home without a store reads as an empty one, kept in memory."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import aiosqlite

from ..errors import StoreFailed, StoreNeedsUpgrade, StoreReadOnly
from .db import Database, default_busy_timeout, latest_version, migrate, open_error, schema_version, too_new

#: What the store's files looked like when a connection was opened: None when SQLite follows changes itself.
Stamp = tuple[int, ...] | None


def _stamp(path: Path) -> tuple[int, ...]:
    """The store file's identity, size and mtime, and whether a -wal exists; (0,) when there is no store."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return (0,)
    return (1, info.st_ino, info.st_size, info.st_mtime_ns, int(Path(f"{path}-wal").exists()))


class ReadOnlyDatabase(Database):
    """A Database whose write() refuses, and whose read() first follows a writer it could not see."""

    def __init__(self, conn: aiosqlite.Connection, path: Path, busy_timeout: float, stamp: Stamp) -> None:
        super().__init__(conn, path, busy_timeout)
        self._stamp = stamp

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        raise StoreReadOnly(f"{self.path}: opened read-only, so nothing was changed")
        yield self.conn  # pragma: no cover  (makes this a generator, as the context manager needs)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[aiosqlite.Connection]:
        await self._follow()
        async with super().read() as conn:
            yield conn

    async def _follow(self) -> None:
        """Reconnect when a store read without SQLite's change detection has changed since."""
        if self._stamp is None or _stamp(self.path) == self._stamp:
            return
        async with self._write_lock:
            try:
                conn, self._stamp = await _connect(self.path, self.busy_timeout)
            except StoreNeedsUpgrade:
                # A store we could read never gets older: this is a writer creating or migrating it right now.
                # Read what we had and try again next time, as the stamp is still the old one.
                return
            previous, self.conn = self.conn, conn
        await previous.close()


async def open_readonly(path: Path, busy_timeout: float | None = None) -> ReadOnlyDatabase:
    """Open the store for reading only; a store that needs a migration is refused, never migrated."""
    timeout = default_busy_timeout() if busy_timeout is None else busy_timeout
    conn, stamp = await _connect(path, timeout)
    return ReadOnlyDatabase(conn, path, timeout, stamp)


async def _connect(path: Path, timeout: float) -> tuple[aiosqlite.Connection, Stamp]:
    stamp = _stamp(path)  # taken first: a change made while we connect is seen at the next read
    if stamp == (0,):
        return await _empty_store(path), stamp
    if not os.access(path, os.R_OK):
        raise StoreFailed(f"{path}: this user may not read the store; its owner can allow it (chmod g+r, with "
                          "the folder g+rx) or run the command instead")
    live = bool(stamp[-1])
    uri = f"file:{quote(str(path))}?" + ("mode=ro" if live else "immutable=1")
    conn = await aiosqlite.connect(uri, uri=True, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        await conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        await _check_version(conn, path)
    except sqlite3.DatabaseError as exc:
        await conn.close()
        failed = "could not be opened read-only" + (" (a writer is live: its -wal and -shm files must be "
                                                    "readable too)" if live else "")
        raise open_error(path, timeout, exc, failed) from None
    except BaseException:
        await conn.close()
        raise
    return conn, None if live else stamp


async def _check_version(conn: aiosqlite.Connection, path: Path) -> None:
    current = await schema_version(conn)  # also the first read: an unreadable -wal or -shm fails here
    if current > latest_version():
        raise too_new(path, current)
    if current < latest_version():
        raise StoreNeedsUpgrade(f"{path}: the store needs upgrading (schema version {current}, this Sluice uses "
                                f"{latest_version()}), and a read-only view never changes it; run any writing "
                                "command or the scheduler once, as a user who may write this home")


async def _empty_store(path: Path) -> aiosqlite.Connection:
    """An empty store in memory: what a home reads as before anything was written to it."""
    conn = await aiosqlite.connect(":memory:", isolation_level=None)
    conn.row_factory = sqlite3.Row
    await migrate(conn, path)
    return conn
