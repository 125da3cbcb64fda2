"""identity declared once: the kernel derives its web app, worker, commands, queue and settings list from this."""
from __future__ import annotations

from identity.bootstrap import bootstrap
from identity.handlers import project_agrement_holder
from identity.settings import Settings, load_settings
from services.catalogue.agrement import AGREMENT_GRANTED, AGREMENT_MODIFIED, AGREMENT_WITHDRAWN
from services.catalogue.identity import ACCOUNT_ACTIVATED, EMAIL_CONFIRMATION_REQUESTED
from services.manifest import ServiceManifest


def _blueprints():
    from identity.web import bp
    return [bp]


MANIFEST = ServiceManifest(
    name="identity",
    folder="identity",
    summary="identity: accounts, credentials, activation, sessions and the portal's signing keys",
    settings=Settings,
    load_settings=load_settings,
    container=bootstrap,
    blueprints=_blueprints,
    # Who may activate follows the newest state of each agrément.
    projections={spec: project_agrement_holder
                 for spec in (AGREMENT_GRANTED, AGREMENT_MODIFIED, AGREMENT_WITHDRAWN)},
    publishes=(EMAIL_CONFIRMATION_REQUESTED, ACCOUNT_ACTIVATED),
    migrations="identity:migrations",
    default_port=8101,
)
