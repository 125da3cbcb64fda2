"""agrement-svc declared once: the kernel derives its web app, worker, commands, queue and settings list from this."""
from __future__ import annotations

from agrement.bootstrap import bootstrap
from agrement.contracts.commands import erasure_job
from agrement.extract.cli import bench_command, demo_extract_command, import_command
from agrement.settings import Settings, load_settings
from agrement.structures.cli import demo_structures_command, import_structures_command
from services.catalogue.agrement import (
    AGREMENT_GRANTED, AGREMENT_MODIFIED, AGREMENT_WITHDRAWN, CAPACITY_EXCEEDED, CONTRACT_DECLARED,
    OVER_CAPACITY_DECLARED, REPORT_RECEIVED, REPORT_STATUS_CHANGED, STRUCTURE_CLOSED, STRUCTURE_MODIFIED,
    STRUCTURE_REGISTERED)
from services.manifest import ServiceManifest


def _blueprints():
    from agrement.backoffice.routes import bp as backoffice
    from agrement.capacity.routes import bp as capacity
    from agrement.contracts.routes import bp as contracts
    from agrement.decisions.routes import bp as decisions
    from agrement.mairie_lists.routes import bp as mairie_lists
    from agrement.my_agrement.routes import bp as my_agrement
    from agrement.own_children.routes import bp as own_children
    from agrement.reports.routes import bp as reports
    return [my_agrement, contracts, own_children, capacity, reports, decisions, mairie_lists, backoffice]


def _init_app(app, container) -> None:
    # The back office lists the contracts' flagged declarations through its query interface.
    from agrement.backoffice.declarations import register
    from agrement.contracts.queries import flagged_for_backoffice
    register(flagged_for_backoffice)
    # A report carries up to 3 attachments, base64 in JSON: room for them above the kernel's 2 MiB default.
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024 + 3 * container.settings.report_attachment_max_bytes * 4 // 3


MANIFEST = ServiceManifest(
    name="agrement",
    folder="agrement-svc",
    summary="agrement-svc: agréments from the PMI's extract, and what assmats declare to the PMI",
    settings=Settings,
    load_settings=load_settings,
    container=bootstrap,
    blueprints=_blueprints,
    publishes=(AGREMENT_GRANTED, AGREMENT_MODIFIED, AGREMENT_WITHDRAWN, STRUCTURE_REGISTERED, STRUCTURE_MODIFIED,
               STRUCTURE_CLOSED, CONTRACT_DECLARED, CAPACITY_EXCEEDED, OVER_CAPACITY_DECLARED, REPORT_RECEIVED,
               REPORT_STATUS_CHANGED),
    commands={"import": import_command, "demo-extract": demo_extract_command, "bench": bench_command,
              "import-structures": import_structures_command, "demo-structures": demo_structures_command},
    background=(erasure_job,),
    init_app=_init_app,
    migrations="agrement:migrations",
    default_port=8102,
)
