"""The verbs every screen that shows runs offers (retry, cancel, priority), with their confirmations.

Each means what the CLI verb of the same name means: `c` is `sluice cancel` (queued runs end, running ones
are killed), as Slurm's scancel is for its users."""

from __future__ import annotations

from textual.binding import Binding

from ..actions import id_list, run_count
from .base import SluiceScreen
from .prompt import PromptScreen

RUN_VERB_BINDINGS = [
    Binding("r", "retry", "Retry"),
    Binding("R", "retry_scratch", "Retry from scratch", key_display="R", show=False),
    Binding("c", "cancel", "Cancel"),
    Binding("P", "priority", "Priority", key_display="P", show=False),
]


def _what(run_ids: list[int]) -> str:
    if len(run_ids) == 1:
        return f"run {run_ids[0]}"
    return f"{run_count(len(run_ids))} (ids {id_list(run_ids)})"


class RunVerbs(SluiceScreen):
    """A screen that shows runs: subclasses say which runs the verbs apply to."""

    def target_ids(self) -> list[int]:
        raise NotImplementedError

    def _targets(self) -> list[int] | None:
        run_ids = self.target_ids()
        if not run_ids:
            self.app.notify("no run selected", severity="warning")
            return None
        return run_ids

    def action_retry(self) -> None:
        run_ids = self._targets()
        if run_ids is None:
            return
        # As `sluice retry` without --force: a succeeded run is not run again (R, confirmed, is the way to).
        retry = lambda: self.engine.retry(run_ids, rerun_succeeded=False)  # noqa: E731
        if len(run_ids) == 1:
            self.sluice.do_action(retry)
            return
        self.sluice.confirm(
            f"Retry {_what(run_ids)} from their latest checkpoints?\n\n"
            "Each ended run is queued for a new attempt; runs that have not ended are left alone.",
            retry, "Retry")

    def action_retry_scratch(self) -> None:
        run_ids = self._targets()
        if run_ids is None:
            return
        self.sluice.confirm(
            f"Retry {_what(run_ids)} from scratch?\n\n"
            "Each ended run, a succeeded one too (as sluice retry --force --from-scratch), is queued for a new "
            "attempt that ignores its checkpoints and starts over; runs that have not ended are left alone.",
            lambda: self.engine.retry(run_ids, from_scratch=True, rerun_succeeded=True), "Retry from scratch")

    def action_cancel(self) -> None:
        run_ids = self._targets()
        if run_ids is None:
            return
        self.sluice.confirm(
            f"Cancel {_what(run_ids)}, as sluice cancel does?\n\n"
            "Queued and backing-off runs are cancelled and will not start; running ones are killed (TERM, then "
            "KILL after the job's grace period). Runs that have ended are left alone.",
            lambda: self.engine.cancel(run_ids), "Cancel runs")

    def action_priority(self) -> None:
        run_ids = self._targets()
        if run_ids is None:
            return
        run_id = run_ids[0]

        def chosen(text: str | None) -> None:
            if text is None:
                return
            try:
                priority = int(text)
            except ValueError:
                self.app.notify(f"{text!r} is not a whole number", severity="warning")
                return

            async def change() -> str:
                await self.engine.set_priority(run_id, priority)
                return f"run {run_id}: priority {priority}"

            self.sluice.do_action(change)

        self.app.push_screen(PromptScreen("priority", f"New priority for run {run_id} (higher runs first)"), chosen)
