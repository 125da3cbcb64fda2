"""A producer's migrate declares its consumers' queues from the catalogue, so what it publishes before they ever ran
waits for them; the types nobody consumes are dropped on purpose instead of filling the unroutable queue."""
from __future__ import annotations

from services.bus import ServiceConsumer
from services.events import Event


def event(subject: str, type_: str) -> Event:
    return Event(type=type_, version=1, subject=subject, data={}, producer="test")


def test_what_a_producer_publishes_before_its_consumers_ran_waits_for_them(backbone):
    bus = backbone.bus()
    # agrement-svc's migrate, as services.runtime.migrate derives it from the catalogue: no consumer has run yet.
    bus.declare_topology({}, [], subscribers={"geo": ["agrement.granted"], "fiche": ["agrement.granted"]},
                         unconsumed=["fiche.published"])
    for subject in ("a", "b"):
        bus.publish(event(subject, "agrement.granted"))
    bus.publish(event("c", "fiche.published"))
    assert bus.waiting(bus.queue_name("geo")) == 2 and bus.waiting(bus.queue_name("fiche")) == 2
    assert bus.waiting(bus.unroutable_queue_name) == 0  # neither kept aside...
    assert bus.waiting(bus.unconsumed_queue_name) == 0  # ...nor piling up where nobody reads

    # geo's worker starts later, with its own retry queues: it gets both events.
    bus.declare_topology({"geo": ["agrement.granted"]}, [100])
    received = []
    ServiceConsumer(bus, "geo", ["agrement.granted"], lambda events: received.extend(e.subject for e in events),
                    [100]).drain_for(1.5)
    assert sorted(received) == ["a", "b"]
    # A type the catalogue does not know goes to the unroutable queue, for `assmat dlq`.
    bus.publish(event("d", "something.unknown"))
    assert bus.waiting(bus.unroutable_queue_name) == 1
    bus.close()
