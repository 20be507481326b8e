"""Errors an operator can act on. The CLI prints them without a traceback and exits 2."""

from __future__ import annotations


class SluiceError(Exception):
    """Base for every error meant for an operator, not a developer."""

    exit_code = 1


class UsageError(SluiceError):
    """Bad input: an argument, a file or a field. Nothing was changed."""

    exit_code = 2


class ConfigError(UsageError):
    """A TOML file or one of its fields is invalid."""


class NotFound(UsageError):
    """A run, job, node, queue or backfill named by the operator does not exist."""


class InvalidTransition(SluiceError):
    """A guarded state change matched no row: the run was not in a state that allows it."""


class SchedulerAlreadyRunning(SluiceError):
    """Another scheduler holds this home's lock."""


class StoreTooNew(SluiceError):
    """The database was written by a newer Sluice."""


class StoreUnreadable(SluiceError):
    """The store file is not an SQLite database Sluice can use."""


class StoreBusy(SluiceError):
    """Another connection held the store's lock for longer than the busy timeout; trying again later is safe."""

    #: EX_TEMPFAIL from sysexits.h: scripts may retry on it.
    exit_code = 75


class StoreFailed(SluiceError):
    """The store could not be opened or written for another reason than its content (disk full, read-only)."""


class StoreNeedsUpgrade(SluiceError):
    """A read-only view found a store older than the code: only a writer may migrate it."""


class StoreReadOnly(SluiceError):
    """A change was asked of a store opened read-only; nothing was changed."""
