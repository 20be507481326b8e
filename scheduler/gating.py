"""Why a queued run may not start yet, and where it may go: one set of rules for dispatch and for the console."""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import NodeConfig
from .models import Backfill, Run
from .states import BackfillStatus


@dataclass
class NodeSlots:
    config: NodeConfig
    used: int
    available: bool
    why_unavailable: str | None = None

    @property
    def free(self) -> int:
        return self.config.slots - self.used if self.available else 0


@dataclass
class DispatchContext:
    """A snapshot of capacity taken at the start of a pass; reserve() keeps it true while the pass plans."""

    queue_paused: dict[str, bool]
    queue_max_running: dict[str, int | None]
    running_by_queue: dict[str, int]
    backfills: dict[int, Backfill]
    running_by_backfill: dict[int, int]
    started_by_backfill: dict[int, int]
    nodes: list[NodeSlots]
    #: Queue names in dispatch order: queue priority, then name.
    queue_order: list[str] = field(default_factory=list)
    #: run id -> why it waits on an upstream job, filled by the caller for runs with `after`.
    upstream_blocks: dict[int, str] = field(default_factory=dict)

    def blocker(self, run: Run) -> str | None:
        """Plain-words reason a queued run cannot start now, or None."""
        reason = self.queue_blocker(run.queue)
        if reason:
            return reason
        if run.backfill_id is not None:
            reason = self._backfill_blocker(run)
            if reason:
                return reason
        if run.id in self.upstream_blocks:
            return self.upstream_blocks[run.id]
        return None

    def queue_blocker(self, queue: str) -> str | None:
        """Why no run of the queue may start now (paused, at its limit), or None."""
        if self.queue_paused.get(queue):
            return f"queue {queue} is paused"
        limit = self.queue_max_running.get(queue)
        if limit is not None and self.running_by_queue.get(queue, 0) >= limit:
            return f"queue {queue} is at its limit of {limit} running"
        return None

    def _backfill_blocker(self, run: Run) -> str | None:
        assert run.backfill_id is not None
        backfill = self.backfills.get(run.backfill_id)
        if backfill is None:
            return None
        if backfill.status == BackfillStatus.PAUSED:
            return f"backfill {backfill.id} is paused"
        if backfill.canary and not backfill.canary_released and run.attempt == 0:
            if self.started_by_backfill.get(backfill.id, 0) >= backfill.canary:
                return f"held by backfill {backfill.id}'s canary of {backfill.canary}: resume the backfill to release it"
        if backfill.max_parallel is not None and self.running_by_backfill.get(backfill.id, 0) >= backfill.max_parallel:
            return f"backfill {backfill.id} is at max-parallel {backfill.max_parallel}"
        return None

    def place(self, run: Run) -> tuple[NodeSlots | None, str | None]:
        """The least-loaded node with all the run's labels and a free slot, or why there is none."""
        labels = set(run.definition.get("labels", []))
        matching = [node for node in self.nodes if labels <= set(node.config.labels)]
        if not matching:
            wanted = ", ".join(sorted(labels))
            return None, f"no node has the labels {wanted}"
        usable = [node for node in matching if node.available]
        if not usable:
            reasons = "; ".join(f"{node.config.name}: {node.why_unavailable}" for node in matching[:3])
            return None, f"no usable node ({reasons})"
        free = [node for node in usable if node.free > 0]
        if not free:
            return None, "waiting for a free slot"
        return min(free, key=lambda node: (node.used / node.config.slots, node.used, node.config.name)), None

    def reserve(self, run: Run, node: NodeSlots) -> None:
        node.used += 1
        self.running_by_queue[run.queue] = self.running_by_queue.get(run.queue, 0) + 1
        if run.backfill_id is not None:
            self.running_by_backfill[run.backfill_id] = self.running_by_backfill.get(run.backfill_id, 0) + 1
            if run.attempt == 0:
                self.started_by_backfill[run.backfill_id] = self.started_by_backfill.get(run.backfill_id, 0) + 1

    def held_backfills(self) -> list[int]:
        """Backfills none of whose queued runs may start now (paused, or at max-parallel)."""
        return [b.id for b in self.backfills.values() if b.status == BackfillStatus.PAUSED or (
            b.max_parallel is not None and self.running_by_backfill.get(b.id, 0) >= b.max_parallel)]

    def canary_held(self) -> list[int]:
        """Backfills whose canary is used up: their not-yet-started runs wait for the operator."""
        return [b.id for b in self.backfills.values() if b.canary and not b.canary_released
                and self.started_by_backfill.get(b.id, 0) >= b.canary]

    def free_node_labels(self) -> list[list[str]]:
        """The labels of each node with a free slot: a run fits one of them or waits (place() says why)."""
        return [sorted(node.config.labels) for node in self.nodes if node.free > 0]

    def free_slots(self) -> int:
        return sum(node.free for node in self.nodes)
