import pytest

from services import correlation
from services.catalogue import all_specs
from services.catalogue.geo import PLACE_LOCATED
from services.events import Event, InvalidEvent


def test_envelope_round_trips_through_json_and_keeps_unknown_data_fields():
    event = Event(type="place.located", version=1, subject="280001", data={"x": 1, "future": "ok"}, producer="geo")
    again = Event.from_dict(__import__("json").loads(event.to_json()))
    assert again == event and again.data["future"] == "ok"


@pytest.mark.parametrize("payload,error", [
    ([], "not an object"),
    ({"type": "x"}, "lacks id"),
    ({"id": "1", "type": "x", "version": "v2", "subject": "s", "data": {}, "producer": "p", "occurred_at": "t"},
     "not an integer"),
    ({"id": "1", "type": "x", "version": 1, "subject": "s", "data": [], "producer": "p", "occurred_at": "t"},
     "data is not an object"),
])
def test_malformed_envelopes_are_refused(payload, error):
    with pytest.raises(InvalidEvent, match=error):
        Event.from_dict(payload)


def test_spec_refuses_missing_fields_and_stamps_the_correlation_id():
    with pytest.raises(InvalidEvent, match="lacks"):
        PLACE_LOCATED.build("280001", {"place_id": "280001"})
    data = {name: 0 for name in PLACE_LOCATED.required}
    with correlation.bound("abc123"):
        event = PLACE_LOCATED.build("280001", data)
    assert (event.type, event.version, event.correlation_id, event.producer) == ("place.located", 1, "abc123",
                                                                                  "geo-svc")


def test_catalogue_types_are_unique_per_version():
    keys = [(spec.type, spec.version) for spec in all_specs()]
    assert len(keys) == len(set(keys)) and len(keys) >= 10
