"""Command palette entries: every view by name, and the verbs the shown screen has keys for."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from textual.binding import ActiveBinding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode

from .actions import MUTATIONS
from .ports import app_port
from .screens.base import SluiceScreen

VIEWS = [
    ("overview", "Overview: runs by job name, queues, nodes, service levels"),
    ("runs", "Runs: every run, newest first"),
    ("runs failed", "Runs that failed"),
    ("runs running", "Runs running now"),
    ("runs queued", "Runs waiting to start"),
    ("backfills", "Backfills and their progress"),
    ("dead", "Dead letters: runs that failed for good"),
    ("events", "Events: the audit history"),
    ("nodes", "Nodes: state, slots, last error, the runs on each; drain and undrain"),
    ("jobs", "Jobs: definitions, schedules, last runs; submit with params, trigger now"),
]

#: App-wide verbs that change something: a read-only console offers them no more than the screens' mutations.
_MUTATING = MUTATIONS | {"start_scheduler", "scheduler_held"}

#: The palette name and help of each key verb, by its binding's action; the key is added to the help.
VERBS: dict[str, tuple[str, str]] = {
    # runs (runs view, run detail, dead letters)
    "retry": ("retry", "retry the selected runs from their latest checkpoints"),
    "retry_scratch": ("retry from scratch", "retry the selected runs ignoring their checkpoints"),
    "cancel": ("cancel runs", "cancel the selected runs, as sluice cancel does"),
    "priority": ("priority", "set the priority of the run under the cursor"),
    "retry_all": ("retry all shown", "retry every dead letter shown"),
    "describe": ("describe run", "open the run under the cursor"),
    "logs": ("logs", "open the log of the run under the cursor"),
    "order": ("newest/oldest first", "reverse the order of the runs"),
    "tag_all": ("tag all shown", "tag every run the filter shows"),
    "untag": ("untag all", "clear the tagged runs"),
    # overview and nodes
    "toggle_pause": ("pause/resume queue", "pause or resume the queue under the cursor"),
    "toggle_drain": ("drain/undrain node", "drain or undrain the node under the cursor"),
    "drain": ("drain node", "drain the node under the cursor, with a reason"),
    "undrain": ("undrain node", "undrain the node under the cursor"),
    "window": ("service level window", "switch the service levels' time window"),
    # backfills
    "new_backfill": ("new backfill", "plan and launch a new backfill"),
    "pause_backfill": ("pause/resume backfill", "pause or resume the selected backfill"),
    "cancel_backfill": ("cancel backfill", "cancel the selected backfill"),
    "retry_failed": ("retry failed partitions", "retry the selected backfill's failed partitions"),
    "parallel": ("max parallel", "set the selected backfill's max parallel runs"),
    # jobs
    "submit": ("submit a run", "submit a run of the job under the cursor"),
    "trigger": ("trigger now", "start a run of the cron job under the cursor now"),
    # everywhere
    "start_scheduler": ("start scheduler", "start a scheduler for this home in the background"),
    "scheduler_held": ("start scheduler", "start a scheduler for this home in the background"),
    "freeze": ("pause/resume updates", "freeze or thaw every view"),
}


@dataclass(frozen=True)
class Verb:
    """One verb the shown screen offers: its palette name, help, and the binding that runs it."""

    name: str
    help: str
    action: str
    node: DOMNode


class ViewCommands(Provider):
    """Switch view from the command palette, as with `:`."""

    async def discover(self) -> Hits:
        for command, help_text in VIEWS:
            yield DiscoveryHit(f":{command}", partial(app_port(self.app).open_view, command), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query.lstrip(":"))
        for command, help_text in VIEWS:
            score = matcher.match(command)
            if score > 0:
                yield Hit(score, matcher.highlight(f":{command}"), partial(app_port(self.app).open_view, command),
                          help=help_text)


class VerbCommands(Provider):
    """Run a verb of the shown screen from the command palette, on its selection, as its key would."""

    def verbs(self) -> list[Verb]:
        """The verbs whose keys are active on the screen now (a read-only console offers no mutation)."""
        screen = self.screen
        if not isinstance(screen, SluiceScreen):
            return []
        readonly = app_port(self.app).readonly
        found: dict[str, Verb] = {}
        for key, active in screen.active_bindings.items():
            verb = self._verb(key, active, readonly)
            if verb is not None:
                found.setdefault(verb.name, verb)
        return list(found.values())

    def _verb(self, key: str, active: ActiveBinding, readonly: bool) -> Verb | None:
        binding = active.binding
        action = binding.action.removeprefix("app.")
        if action not in VERBS or not active.enabled or (readonly and action in _MUTATING):
            return None
        if active.node is not self.screen and active.node is not self.app:
            return None  # a focused widget's own key, not one of the console's verbs
        name, help_text = VERBS[action]
        shown_key = binding.key_display or self.app.get_key_display(binding) or key
        return Verb(name, f"{help_text} ({shown_key})", binding.action, active.node)

    def _run(self, verb: Verb) -> None:
        self.app.call_later(self.app.run_action, verb.action, verb.node)

    async def discover(self) -> Hits:
        for verb in self.verbs():
            yield DiscoveryHit(verb.name, partial(self._run, verb), help=verb.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for verb in self.verbs():
            score = matcher.match(verb.name)
            if score > 0:
                # The screen's own verbs before the app-wide ones when both match as well.
                weight = 0.9 if verb.node is self.app else 1.0
                yield Hit(score * weight, matcher.highlight(verb.name), partial(self._run, verb), help=verb.help)
