"""The catalogue's list of consumers of each event agrees with what the service manifests subscribe to: a producer
declares its consumers' queues from it (services.runtime.migrate), so a missing name would drop their events."""
from __future__ import annotations

from services.catalogue import all_specs
from services.cli import portal_services


def test_every_subscription_is_in_the_catalogue_and_every_listed_consumer_subscribes():
    manifests = portal_services()
    subscribed = {(manifest.name, event_type) for manifest in manifests for event_type in manifest.consumed_types}
    listed = {(consumer, spec.type) for spec in all_specs() for consumer in spec.consumers}
    assert subscribed == listed


def test_every_published_event_is_in_the_catalogue_under_its_producer():
    specs = {spec.type: spec for spec in all_specs()}
    for manifest in portal_services():
        for spec in manifest.publishes:
            assert specs[spec.type] is spec and spec.producer in (manifest.name, manifest.folder)
