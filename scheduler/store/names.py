"""Names in the store for shell completion: one quick synchronous read, never a write, never an error.

A tab press must answer at once and print nothing but names, so this skips the engine and the async driver: a
plain sqlite3 connection opened as readonly.py opens one (`mode=ro` while a writer's -wal exists, else
`immutable=1`, which creates no file), with a short busy timeout; anything unreadable is no names.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

#: What each kind of name is, in the store.
_QUERIES = {
    "nodes": "SELECT name FROM nodes ORDER BY name",
    "queues": "SELECT name FROM queues ORDER BY name",
    "backfills": "SELECT id FROM backfills ORDER BY id",
}

KINDS = frozenset(_QUERIES)


def stored_names(db_path: Path, kind: str) -> list[str]:
    """The `kind` names in the store at `db_path`; [] when it is absent, busy, too old or not a store."""
    if not db_path.is_file():
        return []
    live = Path(f"{db_path}-wal").exists()
    uri = f"file:{quote(str(db_path))}?" + ("mode=ro" if live else "immutable=1")
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=0.3)
    except sqlite3.Error:
        return []
    try:
        return [str(row[0]) for row in conn.execute(_QUERIES[kind])]
    except sqlite3.Error:
        return []
    finally:
        conn.close()
