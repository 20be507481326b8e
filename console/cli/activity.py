"""`sluice activity RUN`: every launch try, failing probe, signal, fence and end of a run's attempts."""

from __future__ import annotations

import argparse

from scheduler.engine import Engine

from ..timefmt import shown
from .output import ActivityOut
from .results import print_json
from .tables import print_table


async def activity(engine: Engine, args: argparse.Namespace) -> int:
    entries = await engine.activity(args.run, args.attempt)
    if args.json:
        print_json({"activity": [ActivityOut.of(entry).model_dump() for entry in entries]})
        return 0
    print_table(
        ["TIME", "TRY", "ACTION", "OUTCOME", "DETAIL"],
        [
            [shown(entry.at), str(entry.attempt), entry.action, entry.outcome, entry.detail]
            for entry in entries
        ],
    )
    return 0
