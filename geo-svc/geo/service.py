"""geo-svc declared once: the kernel derives its web app, worker, commands, queue and settings list from this."""
from __future__ import annotations

from geo.bootstrap import bootstrap
from geo.addresses.cli import load_addresses_command
from geo.communes.cli import load_reference_command
from geo.bench import bench_command
from geo.communes.commands import load_reference_for
from geo.places.consumers import LOCATE_WITH_CONTAINER
from geo.settings import Settings, load_settings
from services.catalogue.agrement import AGREMENT_GRANTED, AGREMENT_MODIFIED
from services.catalogue.geo import CORRECTION_DECIDED, CORRECTION_REQUESTED, PLACE_LOCATED, PLACE_NEEDS_REVIEW
from services.manifest import Batch, ServiceManifest


def _blueprints():
    from geo.communes.routes import bp as communes
    from geo.corrections.routes import bp as corrections
    from geo.places.routes import bp as places
    return [communes, places, corrections]


# One Batch for both types, so a batch's agrément events come in one call, in their order.
_PLACES = Batch(LOCATE_WITH_CONTAINER)

MANIFEST = ServiceManifest(
    name="geo",
    folder="geo-svc",
    summary="geo-svc: the communes reference and where every place of practice is",
    settings=Settings,
    load_settings=load_settings,
    container=bootstrap,
    blueprints=_blueprints,
    # The place follows the agrément's newest address: an older event arriving late must not move it back.
    projections={AGREMENT_GRANTED: _PLACES, AGREMENT_MODIFIED: _PLACES},
    publishes=(PLACE_LOCATED, PLACE_NEEDS_REVIEW, CORRECTION_REQUESTED, CORRECTION_DECIDED),
    commands={"load-communes": load_reference_command, "load-addresses": load_addresses_command,
              "bench": bench_command},
    before_consuming=(load_reference_for,),
    migrations="geo:migrations",
    default_port=8104,
)
