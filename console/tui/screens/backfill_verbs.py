"""Verbs on one backfill (pause/resume, cancel, retry failed, max-parallel), shared by the list and detail."""

from __future__ import annotations

from collections.abc import Awaitable

from textual.binding import Binding

from scheduler.models import Backfill
from scheduler.states import UNSUCCESSFUL, BackfillStatus, RunStatus

from ..format import WAITING, count_of
from .base import SluiceScreen
from .prompt import PromptScreen

BACKFILL_VERB_BINDINGS = [
    Binding("p", "pause_backfill", "Pause/resume"),
    Binding("c", "cancel_backfill", "Cancel"),
    Binding("F", "retry_failed", "Retry failed", key_display="F"),
    Binding("m", "parallel", "Max parallel"),
]


class BackfillVerbs(SluiceScreen):
    """A screen that shows backfills: subclasses say which backfill (and its run counts) is selected."""

    def target_backfill(self) -> tuple[Backfill, dict[str, int]] | None:
        raise NotImplementedError

    def action_pause_backfill(self) -> None:
        target = self.target_backfill()
        if target is None:
            return
        backfill, counts = target
        if backfill.status == BackfillStatus.PAUSED:
            self.sluice.do_action(lambda: self._do(self.engine.resume_backfill(backfill.id),
                                                    f"backfill {backfill.id} resumed"))
            return
        self.sluice.confirm(
            f"Pause backfill {backfill.id} ({backfill.job})?\n\nIts {counts.get(RunStatus.QUEUED, 0)} queued runs "
            f"stay queued and none starts until resumed; {counts.get(RunStatus.RUNNING, 0)} running runs finish.",
            lambda: self._do(self.engine.pause_backfill(backfill.id), f"backfill {backfill.id} paused"), "Pause")

    def action_cancel_backfill(self) -> None:
        target = self.target_backfill()
        if target is None:
            return
        backfill, counts = target
        waiting = count_of(counts, WAITING)
        self.sluice.confirm(
            f"Cancel backfill {backfill.id} ({backfill.job})?\n\n{waiting} queued runs are cancelled; "
            f"{counts.get(RunStatus.RUNNING, 0)} running runs are left to finish. This cannot be resumed.",
            lambda: self.engine.cancel_backfill(backfill.id, kill=False),  # as `sluice backfill-cancel`
            "Cancel backfill")

    def action_retry_failed(self) -> None:
        target = self.target_backfill()
        if target is None:
            return
        backfill, counts = target
        failed = count_of(counts, UNSUCCESSFUL)  # every ended, unsuccessful partition
        if not failed:
            self.app.notify(f"backfill {backfill.id} has no failed partitions")
            return
        self.sluice.confirm(
            f"Retry the {failed} failed or cancelled partitions of backfill {backfill.id}?\n\n"
            "Each is queued for a new attempt from its latest checkpoint, and the backfill becomes active.",
            lambda: self.engine.retry_failed_backfill(backfill.id), f"Retry {failed}")

    def action_parallel(self) -> None:
        target = self.target_backfill()
        if target is None:
            return
        backfill, _ = target

        def chosen(text: str | None) -> None:
            if not text:
                return
            if not text.strip().isdigit() or int(text) < 1:
                self.app.notify(f"{text!r}: max-parallel is a whole number of at least 1", severity="warning")
                return
            value = int(text)
            self.sluice.do_action(lambda: self._do(self.engine.set_backfill_max_parallel(backfill.id, value),
                                                    f"backfill {backfill.id}: max-parallel {value}"))

        current = backfill.max_parallel or "unlimited"
        self.app.push_screen(PromptScreen("max parallel", f"Max parallel runs for backfill {backfill.id} "
                                          f"(now {current})", str(backfill.max_parallel or "")), chosen)

    @staticmethod
    async def _do(call: Awaitable[None], message: str) -> str:
        await call
        return message
