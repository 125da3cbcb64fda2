"""agrement-svc declared once: the kernel derives its web app, worker, commands, queue and settings list from this."""
from __future__ import annotations

from agrement.bootstrap import bootstrap
from agrement.contracts.commands import erasure_job
from agrement.extract.cli import bench_command, demo_extract_command, import_command
from agrement.settings import Settings, load_settings
from agrement.structures.cli import demo_structures_command, import_structures_command
from services.catalogue.agrement import (
    AGREMENT_GRANTED, AGREMENT_MODIFIED, AGREMENT_WITHDRAWN, CAPACITY_EXCEEDED, CONTRACT_DECLARED,
    OVER_CAPACITY_DECLARED, STRUCTURE_CLOSED, STRUCTURE_MODIFIED, STRUCTURE_REGISTERED)
from services.manifest import ServiceManifest


def _blueprints():
    from agrement.capacity.routes import bp as capacity
    from agrement.contracts.routes import bp as contracts
    from agrement.my_agrement.routes import bp as my_agrement
    from agrement.own_children.routes import bp as own_children
    return [my_agrement, contracts, own_children, capacity]


MANIFEST = ServiceManifest(
    name="agrement",
    folder="agrement-svc",
    summary="agrement-svc: agréments from the PMI's extract, and what assmats declare to the PMI",
    settings=Settings,
    load_settings=load_settings,
    container=bootstrap,
    blueprints=_blueprints,
    publishes=(AGREMENT_GRANTED, AGREMENT_MODIFIED, AGREMENT_WITHDRAWN, STRUCTURE_REGISTERED, STRUCTURE_MODIFIED,
               STRUCTURE_CLOSED, CONTRACT_DECLARED, CAPACITY_EXCEEDED, OVER_CAPACITY_DECLARED),
    commands={"import": import_command, "demo-extract": demo_extract_command, "bench": bench_command,
              "import-structures": import_structures_command, "demo-structures": demo_structures_command},
    background=(erasure_job,),
    migrations="agrement:migrations",
    default_port=8102,
)
