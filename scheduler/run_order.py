"""The orders the runs list can be read in, and the keyset key of a run in each.

Every order but runtime follows an index (ties broken by id, in the same direction), so a page costs the same at
any depth of a million runs; runtime is computed, not stored, so the console sorts only the rows it has loaded."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .models import Run


class SortKey(StrEnum):
    #: Creation order: ids grow with created_at (the default, newest first).
    ID = "id"
    #: Job name (index runs_job_id).
    JOB = "job"
    #: Status name, alphabetically (index runs_status_id).
    STATUS = "status"
    #: Node name, runs without a node first (index runs_node_id).
    NODE = "node"
    #: How long the run ran or has been running: not stored, so not indexed.
    RUNTIME = "runtime"


#: The keys the store can page through by keyset.
INDEXED: frozenset[SortKey] = frozenset({SortKey.ID, SortKey.JOB, SortKey.STATUS, SortKey.NODE})


@dataclass(frozen=True)
class RunOrder:
    key: SortKey = SortKey.ID
    descending: bool = True

    @property
    def indexed(self) -> bool:
        return self.key in INDEXED


#: The default: newest first.
NEWEST_FIRST = RunOrder()


def keyset_key(run: Run, order: RunOrder) -> tuple[str | int, ...]:
    """Where `run` sits in `order` (an indexed one): the values the store compares a page's edge with."""
    if order.key == SortKey.ID:
        return (run.id,)
    value = {SortKey.JOB: run.job, SortKey.STATUS: run.status, SortKey.NODE: run.node or ""}[order.key]
    return (value, run.id)
