"""The integration event envelope shared by every service.

`id` (uuid4), `type` (`agrement.granted`), `version`, `occurred_at` (UTC, ISO 8601), `producer`, `correlation_id`,
`subject` (the aggregate's id), `data`, and `sequence`: set by the outbox relay when it publishes (the outbox row's
position), so that for one producer and one subject a larger sequence is a newer state (services.ordering); None
on an event not yet published. Consumers ignore fields they do not know; producers only add fields (a breaking
change is a new version published beside the old one, see services.catalogue).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from typing import Any

from services import correlation


class InvalidEvent(ValueError):
    """A message that cannot be an event of the catalogue (missing envelope field, wrong data)."""


@dataclasses.dataclass(frozen=True)
class Event:
    type: str
    version: int
    subject: str
    data: dict[str, Any]
    producer: str
    id: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: str = dataclasses.field(
        default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds"))
    correlation_id: str | None = None
    sequence: int | None = None

    @property
    def routing_key(self) -> str:
        return self.type

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: its deep copy of `data` was the main cost of writing events in bulk.
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"), default=str)

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> "Event":
        if not isinstance(payload, dict):
            raise InvalidEvent("event payload is not an object")
        missing = [name for name in ("id", "type", "version", "subject", "data", "producer", "occurred_at")
                   if name not in payload]
        if missing:
            raise InvalidEvent(f"event envelope lacks {', '.join(missing)}")
        if not isinstance(payload["data"], dict):
            raise InvalidEvent("event data is not an object")
        try:
            version = int(payload["version"])
        except (TypeError, ValueError):
            raise InvalidEvent(f"event version {payload['version']!r} is not an integer") from None
        sequence = payload.get("sequence")
        # bool is an int to Python, not an order to anyone; a negative one never comes from an outbox position.
        if sequence is not None and (not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0):
            raise InvalidEvent(f"event sequence {sequence!r} is not a non-negative integer")
        return cls(type=str(payload["type"]), version=version, subject=str(payload["subject"]),
                   data=payload["data"], producer=str(payload["producer"]), id=str(payload["id"]),
                   occurred_at=str(payload["occurred_at"]), correlation_id=payload.get("correlation_id"),
                   sequence=sequence)


def new_event(type_: str, version: int, subject: str, data: dict[str, Any], producer: str) -> Event:
    """Build an event stamped with the correlation id of the work in progress."""
    return Event(type=type_, version=version, subject=str(subject), data=data, producer=producer,
                 correlation_id=correlation.ensure())
