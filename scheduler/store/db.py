"""The SQLite connection: WAL, busy timeout, forward-only migrations tracked with PRAGMA user_version."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from ..errors import StoreTooNew, StoreUnreadable

BUSY_TIMEOUT_MS = 30_000


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

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._write_lock = asyncio.Lock()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction: committed on exit, rolled back on error. Serialised within this process."""
        async with self._write_lock:
            try:
                await self.conn.execute("BEGIN IMMEDIATE")
                yield self.conn
            except BaseException:
                await asyncio.shield(self._rollback())
                raise
            else:
                # aiosqlite runs statements in order on its thread: even if our caller is cancelled here,
                # the COMMIT still runs before the next transaction's BEGIN.
                await asyncio.shield(self.conn.execute("COMMIT"))

    @asynccontextmanager
    async def read(self) -> AsyncIterator[aiosqlite.Connection]:
        """A consistent snapshot for several SELECTs."""
        async with self._write_lock:
            try:
                await self.conn.execute("BEGIN")
                yield self.conn
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

    async def data_version(self) -> int:
        """Changes whenever another connection commits: a cheap way to notice operator actions."""
        row = await self.fetchone("PRAGMA data_version")
        assert row is not None
        return int(row[0])

    async def close(self) -> None:
        await self.conn.close()


async def _refuse_newer(conn: aiosqlite.Connection, path: Path) -> None:
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    current = int(row[0]) if row else 0
    if current > latest_version():
        raise StoreTooNew(
            f"{path}: the store is at schema version {current}, but this Sluice knows only up to "
            f"{latest_version()}; upgrade Sluice instead of opening it with an older one"
        )


async def _migrate(conn: aiosqlite.Connection, path: Path) -> None:
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    current = int(row[0]) if row else 0
    scripts = migration_scripts()
    newest = scripts[-1][0]
    if current > newest:
        raise StoreTooNew(
            f"{path}: the store is at schema version {current}, but this Sluice knows only up to {newest}; "
            "upgrade Sluice instead of opening it with an older one"
        )
    pending = [(version, sql) for version, sql in scripts if version > current]
    if not pending:
        return
    await conn.execute("BEGIN IMMEDIATE")
    try:
        async with conn.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        current = int(row[0]) if row else 0  # another process may have migrated while we waited
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


async def open_database(path: Path) -> Database:
    """Open (creating private if new) and migrate the store."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    conn = await aiosqlite.connect(str(path), isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await _refuse_newer(conn, path)  # before any PRAGMA that writes: a refused store stays untouched
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = FULL")
        await conn.execute("PRAGMA foreign_keys = ON")
        await _migrate(conn, path)
    except sqlite3.DatabaseError as exc:
        await conn.close()
        raise StoreUnreadable(f"{path}: not a usable Sluice store ({exc}); move it aside or use another --home") \
            from None
    except BaseException:
        await conn.close()
        raise
    for suffix in ("-wal", "-shm"):
        side = Path(str(path) + suffix)
        if side.exists():
            os.chmod(side, 0o600)
    return Database(conn, path)
