"""The versioned catalogue of integration events, one module per producer.

An `EventSpec` names an event type, its version and the data fields it always carries. Producers build events with
`spec.build(subject, data)` (which refuses missing fields); consumers bind their queue to `spec.type` and read only
the fields they need. Changes are additive; a breaking change is a new `EventSpec` with version + 1 published beside
the old one until every consumer moved.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from services.events import Event, InvalidEvent, new_event


@dataclasses.dataclass(frozen=True)
class EventSpec:
    type: str
    version: int
    producer: str
    required: tuple[str, ...]
    description: str = ""
    # The services whose manifests consume this event. The producer's `migrate` declares their queues and bindings
    # too, so an event is never published before its consumers' queue exists, whatever order the services start
    # in; a test checks this list against the manifests.
    consumers: tuple[str, ...] = ()

    def build(self, subject: str, data: dict[str, Any]) -> Event:
        self.check(data)
        return new_event(self.type, self.version, subject, data, self.producer)

    def check(self, data: dict[str, Any]) -> None:
        missing = [name for name in self.required if name not in data]
        if missing:
            raise InvalidEvent(f"{self.type} v{self.version} lacks {', '.join(missing)}")

    def matches(self, event: Event) -> bool:
        return event.type == self.type and event.version == self.version


def spec_of(event_type: str) -> EventSpec | None:
    return next((spec for spec in all_specs() if spec.type == event_type), None)


def all_specs() -> list[EventSpec]:
    from services.catalogue import agrement, fiche, geo, identity, notify
    specs: list[EventSpec] = []
    for module in (agrement, fiche, geo, identity, notify):
        specs.extend(value for value in vars(module).values() if isinstance(value, EventSpec))
    return specs
