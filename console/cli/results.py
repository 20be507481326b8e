"""How a command prints what it did: a JSON document, or the outcome of each operator action."""

from __future__ import annotations

import json
import sys
from typing import Any

from scheduler.engine import ActionResult


def print_json(document: Any) -> None:
    print(json.dumps(document, indent=2))


def report_actions(results: list[ActionResult], as_json: bool, rerun_field: bool = False) -> int:
    """Each result on its own line (failures on stderr), or as JSON; `rerun_field` adds a retry's rerun_succeeded."""
    if as_json:
        print_json({"results": [{"run_id": r.run_id, "ok": r.ok, "message": r.message,
                                 **({"rerun_succeeded": r.rerun_succeeded} if rerun_field else {})}
                                for r in results]})
    else:
        for result in results:
            print(result.message, file=sys.stdout if result.ok else sys.stderr)
    return 0 if all(result.ok for result in results) else 1
