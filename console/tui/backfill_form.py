"""The backfill launch form's values, parsed into plan_backfill arguments, and the plan as plain words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scheduler.backfills import BackfillPlan


@dataclass(frozen=True)
class LaunchForm:
    job: str
    range_from: str = ""
    range_to: str = ""
    values: str = ""
    max_parallel: str = ""
    order: str = "oldest-first"
    canary: str = ""
    params: str = ""
    queue: str = ""
    priority: str = ""
    rerun_succeeded: bool = False

    def plan_arguments(self) -> dict[str, Any]:
        """Keyword arguments for Engine.plan_backfill; ValueError names the bad field."""
        return {
            "range_from": self.range_from.strip() or None,
            "range_to": self.range_to.strip() or None,
            "values": [value.strip() for value in self.values.split(",") if value.strip()] or None,
            "params": parse_params(self.params),
            "max_parallel": _whole("max parallel", self.max_parallel),
            "order": self.order,
            "canary": _whole("canary", self.canary),
            "rerun_succeeded": self.rerun_succeeded,
            "queue": self.queue.strip() or None,
            "priority": _whole("priority", self.priority, signed=True),
        }


def parse_params(text: str) -> dict[str, str]:
    params = {}
    for pair in text.split():
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"params: {pair!r} should be NAME=VALUE")
        params[name] = value
    return params


def _whole(name: str, text: str, signed: bool = False) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not a whole number") from None
    if not signed and value < 1:
        raise ValueError(f"{name}: must be at least 1")
    return value


def describe_plan(plan: BackfillPlan) -> str:
    """What creating this plan would do, in the words the confirmation uses."""
    count = len(plan.partitions)
    if not count:
        lines = [f"Nothing to run: all {len(plan.skipped)} partitions are skipped."]
    else:
        span = plan.partitions[0] if count == 1 else f"{plan.partitions[0]} … {plan.partitions[-1]}"
        lines = [f"{count} run{'s' if count != 1 else ''} of {plan.job}: {span} ({plan.order})"]
        lines.append(f"queue {plan.queue}, priority {plan.priority}, max-parallel "
                     f"{plan.max_parallel or 'unlimited'}" + (f", canary {plan.canary}" if plan.canary else ""))
        if plan.params:
            lines.append("params " + " ".join(f"{name}={value}" for name, value in sorted(plan.params.items())))
    if plan.skipped:
        shown = list(plan.skipped.items())[:4]
        lines.append(f"{len(plan.skipped)} skipped: " + "; ".join(f"{key} {why}" for key, why in shown)
                     + (" …" if len(plan.skipped) > 4 else ""))
    return "\n".join(lines)


def confirm_question(plan: BackfillPlan) -> str:
    count = len(plan.partitions)
    return (f"Create a backfill of {plan.job} with {count} run{'s' if count != 1 else ''}?\n\n"
            f"{describe_plan(plan)}\n\nThe runs are queued now and start as max-parallel allows.")
