"""The envelope's sequence: set by the outbox relay, optional when parsing, refused when it cannot be an order."""
import json

import pytest

from services.events import Event, InvalidEvent


def payload(**changes) -> dict:
    event = Event(type="place.located", version=1, subject="280001", data={"x": 1}, producer="geo-svc")
    return {**event.to_dict(), **changes}


def test_the_sequence_is_serialised_and_parsed_back():
    event = Event.from_dict(payload(sequence=42))
    assert event.sequence == 42
    assert json.loads(event.to_json())["sequence"] == 42
    assert Event.from_dict(json.loads(event.to_json())) == event


def test_an_event_without_sequence_parses_to_none():
    body = payload()
    del body["sequence"]
    assert Event.from_dict(body).sequence is None
    assert Event.from_dict(payload(sequence=None)).sequence is None


@pytest.mark.parametrize("value", ["3", 2.5, True, -1, [1], {"n": 1}])
def test_a_sequence_that_is_not_a_non_negative_integer_is_refused(value):
    with pytest.raises(InvalidEvent, match="sequence"):
        Event.from_dict(payload(sequence=value))
