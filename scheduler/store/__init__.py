"""All SQL lives in this package: the connection and migrations (db.py) and the named queries (queries.py)."""

from .db import Database, open_database

__all__ = ["Database", "open_database"]
