"""The SQLite connection: WAL, busy timeout, forward-only migrations tracked with PRAGMA user_version.

A busy store (another connection holding the write lock) is waited for up to the busy timeout and then raised as
StoreBusy, naming the processes that have the store open; it is never mistaken for an unusable file."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from ..errors import SluiceError, StoreBusy, StoreFailed, StoreTooNew, StoreUnreadable

#: Seconds a statement waits for another connection's lock; SLUICE_BUSY_TIMEOUT overrides it.
BUSY_TIMEOUT = 30.0
_SQLITE_BUSY, _SQLITE_CORRUPT, _SQLITE_NOTADB = 5, 11, 26


def default_busy_timeout() -> float:
    value = os.environ.get("SLUICE_BUSY_TIMEOUT")
    try:
        return max(0.0, float(value)) if value else BUSY_TIMEOUT
    except ValueError:
        return BUSY_TIMEOUT


def is_busy(exc: BaseException) -> bool:
    """True for SQLite's "database is locked" family, which waiting can cure."""
    return isinstance(exc, sqlite3.OperationalError) and (
        (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == _SQLITE_BUSY)


def store_holders(path: Path) -> list[str]:
    """"pid N (command)" for every process with the store or its WAL open, read from /proc (Linux only)."""
    targets = {str(path.resolve()) + suffix for suffix in ("", "-wal")}
    holders = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if not any(os.readlink(fd) in targets for fd in (proc / "fd").iterdir()):
                continue
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue  # gone, or not ours to read
        pid = int(proc.name)
        who = "this process" if pid == os.getpid() else f"pid {pid}"
        holders.append(f"{who} ({command[:80]})" if command else who)
    return sorted(holders)


def busy_error(path: Path, timeout: float) -> StoreBusy:
    holders = store_holders(path)
    held = "; open in " + ", ".join(holders) if holders else ""
    return StoreBusy(f"{path}: the store is busy: another connection held its lock for more than {timeout:g}s"
                     f"{held}. Nothing was changed; try again (SLUICE_BUSY_TIMEOUT sets the wait)")


def migration_scripts() -> list[tuple[int, str]]:
    """(version, sql) for every numbered file in migrations/, in order."""
    folder = resources.files("scheduler.store") / "migrations"
    scripts = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            scripts.append((int(name[:4]), entry.read_text(encoding="utf-8")))
    return sorted(scripts)


def latest_version() -> int:
    return migration_scripts()[-1][0]


class Database:
    """One aiosqlite connection with explicit transactions. Writers use BEGIN IMMEDIATE to avoid upgrade deadlocks."""

    def __init__(self, conn: aiosqlite.Connection, path: Path, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.conn = conn
        self.path = path
        self.busy_timeout = busy_timeout
        self._write_lock = asyncio.Lock()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction: committed on exit, rolled back on any error, COMMIT's own included.

        Serialised within this process; a lock held elsewhere past the busy timeout raises StoreBusy."""
        async with self._write_lock:
            try:
                await self.conn.execute("BEGIN IMMEDIATE")
                yield self.conn
                # aiosqlite runs statements in order on its thread: even if our caller is cancelled here,
                # the COMMIT still runs before the next transaction's BEGIN (and the ROLLBACK below is a no-op).
                await asyncio.shield(self.conn.execute("COMMIT"))
            except BaseException as exc:
                # A failed COMMIT leaves SQLite inside the transaction: end it, or every later BEGIN fails.
                await asyncio.shield(self._rollback())
                if is_busy(exc):
                    raise busy_error(self.path, self.busy_timeout) from exc
                raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[aiosqlite.Connection]:
        """A consistent snapshot for several SELECTs."""
        async with self._write_lock:
            try:
                await self.conn.execute("BEGIN")
                yield self.conn
            except sqlite3.OperationalError as exc:
                if is_busy(exc):
                    raise busy_error(self.path, self.busy_timeout) from exc
                raise
            finally:
                await asyncio.shield(self._rollback())

    async def _rollback(self) -> None:
        """End whatever transaction is open; a cancelled BEGIN may or may not have run, so none is fine too."""
        with contextlib.suppress(sqlite3.Error, ValueError):
            await self.conn.execute("ROLLBACK")

    async def fetchall(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        async with self.conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def fetchone(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        async with self.conn.execute(sql, params) as cursor:
            return await cursor.fetchone()

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.conn.executemany(sql, rows)

    async def close(self) -> None:
        await self.conn.close()


async def schema_version(conn: aiosqlite.Connection) -> int:
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


def too_new(path: Path, current: int) -> StoreTooNew:
    return StoreTooNew(f"{path}: the store is at schema version {current}, but this Sluice knows only up to "
                       f"{latest_version()}; upgrade Sluice instead of opening it with an older one")


async def _refuse_newer(conn: aiosqlite.Connection, path: Path) -> None:
    current = await schema_version(conn)
    if current > latest_version():
        raise too_new(path, current)


async def migrate(conn: aiosqlite.Connection, path: Path) -> None:
    """Apply every pending migration in one write transaction."""
    current = await schema_version(conn)
    scripts = migration_scripts()
    if current > scripts[-1][0]:
        raise too_new(path, current)
    pending = [(version, sql) for version, sql in scripts if version > current]
    if not pending:
        return
    await conn.execute("BEGIN IMMEDIATE")
    try:
        current = await schema_version(conn)  # another process may have migrated while we waited
        for version, sql in pending:
            if version <= current:
                continue
            for statement in _split_statements(sql):
                await conn.execute(statement)
            await conn.execute(f"PRAGMA user_version = {int(version)}")
        await conn.execute("COMMIT")
    except BaseException:
        await conn.execute("ROLLBACK")
        raise


def _split_statements(sql: str) -> list[str]:
    """Split a migration on complete statements (executescript would commit our transaction)."""
    statements, buffer = [], ""
    for line in sql.splitlines(keepends=True):
        if line.strip().startswith("--") and not buffer.strip():
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


async def open_database(path: Path, busy_timeout: float | None = None) -> Database:
    """Open (creating private if new) and migrate the store, waiting for a busy one up to the busy timeout."""
    timeout = default_busy_timeout() if busy_timeout is None else busy_timeout
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    conn = await aiosqlite.connect(str(path), isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        await conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        await _set_up(conn, path, timeout)
    except sqlite3.DatabaseError as exc:
        await conn.close()
        raise open_error(path, timeout, exc, "could not be opened") from None
    except BaseException:
        await conn.close()
        raise
    # The -wal and -shm hold the same rows as the store, so they are no more open than the store itself: 0600,
    # unless its owner let others read it (then a colleague's read-only view can follow a live writer).
    mode = stat.S_IMODE(path.stat().st_mode) & 0o644
    for suffix in ("-wal", "-shm"):
        side = Path(str(path) + suffix)
        if side.exists():
            os.chmod(side, mode)
    return Database(conn, path, timeout)


def open_error(path: Path, timeout: float, exc: sqlite3.DatabaseError, failed: str) -> SluiceError:
    """The operator's error for an SQLite error raised while opening the store."""
    if is_busy(exc):
        return busy_error(path, timeout)
    if (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return StoreUnreadable(f"{path}: not a usable Sluice store ({exc}); move it aside or use another --home")
    # A full disk, a read-only file, an I/O error: the store itself may be fine, so never say move it aside.
    return StoreFailed(f"{path}: the store {failed} ({exc}); nothing was changed")


async def _set_up(conn: aiosqlite.Connection, path: Path, timeout: float) -> None:
    """Journal mode, pragmas and migrations; retried while the store is busy, since SQLite's busy handler does
    not cover switching a new store into WAL mode (that returns "database is locked" at once)."""
    deadline = time.monotonic() + timeout
    pause = 0.01
    while True:
        try:
            await _refuse_newer(conn, path)  # before any PRAGMA that writes: a refused store stays untouched
            async with conn.execute("PRAGMA journal_mode") as cursor:
                row = await cursor.fetchone()
            if row is None or str(row[0]).lower() != "wal":
                await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = FULL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await migrate(conn, path)
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() + pause > deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.25)
