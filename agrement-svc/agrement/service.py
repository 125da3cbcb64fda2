"""agrement-svc declared once: the kernel derives its web app, worker, commands, queue and settings list from this."""
from __future__ import annotations

from agrement.bootstrap import bootstrap
from agrement.extract.cli import bench_command, demo_extract_command, import_command
from agrement.settings import Settings, load_settings
from agrement.structures.cli import demo_structures_command, import_structures_command
from services.catalogue.agrement import (
    AGREMENT_GRANTED, AGREMENT_MODIFIED, AGREMENT_WITHDRAWN, STRUCTURE_CLOSED, STRUCTURE_MODIFIED,
    STRUCTURE_REGISTERED)
from services.manifest import ServiceManifest


def _blueprints():
    from agrement.my_agrement.routes import bp as my_agrement
    return [my_agrement]


MANIFEST = ServiceManifest(
    name="agrement",
    folder="agrement-svc",
    summary="agrement-svc: agréments from the PMI's extract, and what assmats declare to the PMI",
    settings=Settings,
    load_settings=load_settings,
    container=bootstrap,
    blueprints=_blueprints,
    publishes=(AGREMENT_GRANTED, AGREMENT_MODIFIED, AGREMENT_WITHDRAWN, STRUCTURE_REGISTERED, STRUCTURE_MODIFIED,
               STRUCTURE_CLOSED),
    commands={"import": import_command, "demo-extract": demo_extract_command, "bench": bench_command,
              "import-structures": import_structures_command, "demo-structures": demo_structures_command},
    migrations="agrement:migrations",
    default_port=8102,
)
