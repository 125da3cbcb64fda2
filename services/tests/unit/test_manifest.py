"""What the kernel derives from a manifest's subscriptions."""
from __future__ import annotations

from services.catalogue.agrement import AGREMENT_GRANTED, AGREMENT_MODIFIED, AGREMENT_WITHDRAWN
from services.manifest import Batch, FromContainer, ServiceManifest
from services.settings import BaseSettings


def each(uow, event) -> None:
    pass


def test_a_manifest_batch_handler_is_one_handler_for_every_type_it_takes():
    built = []

    def build(container):
        built.append(container)
        return lambda uow, events: None

    batch = Batch(FromContainer(build))
    manifest = ServiceManifest(name="x", folder="x", summary="x", settings=BaseSettings, load_settings=BaseSettings,
                               container=lambda settings: None,
                               projections={AGREMENT_GRANTED: batch, AGREMENT_MODIFIED: batch,
                                            AGREMENT_WITHDRAWN: each})
    found = manifest.subscriptions("the container")
    assert built == ["the container"], "built once"
    granted, modified, withdrawn = (found[spec.type] for spec in (AGREMENT_GRANTED, AGREMENT_MODIFIED,
                                                                   AGREMENT_WITHDRAWN))
    assert granted.batch and granted.ordered and granted.handler is modified.handler
    assert not withdrawn.batch and withdrawn.handler is each
