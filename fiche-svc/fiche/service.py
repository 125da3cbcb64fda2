"""fiche-svc declared once: the kernel derives its web app, worker, commands, queue and settings list from this."""
from __future__ import annotations

from fiche.bootstrap import bootstrap
from fiche.projection.commands import sweep_validity
from fiche.projection.consumers import project_batch
from fiche.settings import Settings, load_settings
from services.catalogue.agrement import AGREMENT_GRANTED, AGREMENT_MODIFIED, AGREMENT_WITHDRAWN
from services.catalogue.fiche import FICHE_PUBLISHED, FICHE_UNPUBLISHED, FICHE_UPDATED
from services.catalogue.geo import PLACE_LOCATED
from services.manifest import Batch, ServiceManifest


def _blueprints():
    from fiche.search.routes import bp
    return [bp]


def _bench(_settings, argv) -> int:
    import argparse

    from fiche.bench import run as run_bench
    parser = argparse.ArgumentParser(prog="python -m fiche bench", description="time the fiche search on SQLite")
    parser.add_argument("size", type=int, nargs="?", default=100_000, help="number of synthetic fiches")
    run_bench(parser.parse_args(argv).size)
    return 0


_PROJECTION = Batch(project_batch)

MANIFEST = ServiceManifest(
    name="fiche",
    folder="fiche-svc",
    summary="fiche-svc: the public fiches of assmats and their search",
    settings=Settings,
    load_settings=load_settings,
    container=bootstrap,
    blueprints=_blueprints,
    # A fiche follows the newest state of its agrément and of its place: older events arriving late are skipped.
    # One Batch for the four types: a place's pin and its fiche's agrément are compared with each other, so their
    # events are applied in the batch's order, in one call.
    projections={AGREMENT_GRANTED: _PROJECTION, AGREMENT_MODIFIED: _PROJECTION, AGREMENT_WITHDRAWN: _PROJECTION,
                 PLACE_LOCATED: _PROJECTION},
    publishes=(FICHE_PUBLISHED, FICHE_UPDATED, FICHE_UNPUBLISHED),
    commands={"bench": _bench},
    background=(sweep_validity,),
    migrations="fiche:migrations",
    default_port=8103,
)
