"""One pass's view: its transaction, its working memory, the effects it queues, and the clock reading."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

import aiosqlite

from ..config import NodeConfig
from ..executor import Executor
from ..models import to_iso
from .memory import Effects, Memory
from .settings import SchedulerSettings

ACTOR = "scheduler"


@dataclass
class PassContext:
    conn: aiosqlite.Connection
    memory: Memory
    effects: Effects
    now: datetime
    #: The event loop's clock, for leases and intervals that must not jump with the wall clock.
    loop_now: float
    settings: SchedulerSettings
    executor: Executor
    rng: random.Random
    home_id: str
    #: The watched nodes' settings (quarantine_after).
    nodes: dict[str, NodeConfig] = field(default_factory=dict)

    @property
    def at(self) -> str:
        return to_iso(self.now)
