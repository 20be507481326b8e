"""What the operator types after `/` on the events view: words to search for, or `kind=` and `actor=`."""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.states import EventKind

#: The fields `field=value` may name; any other field is an error, never a silent meaning.
FIELDS = ("kind", "actor")


@dataclass(frozen=True)
class EventFilter:
    kind: str | None = None
    actor: str | None = None
    #: Each must appear in an event's kind, run id, actor or detail (node names are in the detail).
    words: tuple[str, ...] = ()


def parse_event_filter(text: str) -> EventFilter:
    """`kind=retry actor=alice n2` -> that filter; raises ValueError naming an unknown field or kind."""
    fields: dict[str, str] = {}
    words: list[str] = []
    for word in text.split():
        key, sep, value = word.partition("=")
        if not sep:
            words.append(word)
            continue
        if key not in FIELDS:
            raise ValueError(
                f"unknown field {key!r}: use kind=… or actor=…, or plain words to search the "
                "kind, run, node and detail"
            )
        if not value:
            raise ValueError(
                f"{key}= needs a value, e.g. {key}=retry" if key == "kind" else f"{key}= needs a value"
            )
        fields[key] = value
    kind = fields.get("kind")
    if kind is not None and kind not in {member.value for member in EventKind}:
        raise ValueError(
            f"no event kind {kind!r}: kinds are {', '.join(member.value for member in EventKind)}"
        )
    return EventFilter(kind=kind, actor=fields.get("actor"), words=tuple(words))


def describe_event_filter(event_filter: EventFilter) -> str:
    """The filter as it would be typed (empty for none)."""
    parts = [
        f"kind={event_filter.kind}" if event_filter.kind else "",
        f"actor={event_filter.actor}" if event_filter.actor else "",
        *event_filter.words,
    ]
    return " ".join(part for part in parts if part)
