"""Command palette entries: every view, by name."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from .ports import app_port

VIEWS = [
    ("overview", "Overview: queues, nodes, service levels"),
    ("runs", "Runs: every run, newest first"),
    ("runs failed", "Runs that failed"),
    ("runs running", "Runs running now"),
    ("runs queued", "Runs waiting to start"),
    ("backfills", "Backfills and their progress"),
    ("dead", "Dead letters: runs that failed for good"),
    ("events", "Events: the audit history"),
]


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
