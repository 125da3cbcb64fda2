"""identity declared once: the kernel derives its web app, worker, commands, queue and settings list from this."""
from __future__ import annotations

from identity.bootstrap import bootstrap
from identity.holders.consumers import project_agrement_holders
from identity.settings import Settings, load_settings
from services.catalogue.agrement import AGREMENT_GRANTED, AGREMENT_MODIFIED, AGREMENT_WITHDRAWN
from services.catalogue.identity import ACCOUNT_ACTIVATED, EMAIL_CONFIRMATION_REQUESTED
from services.manifest import Batch, ServiceManifest


def _blueprints():
    # One per capability: a new capability adds its folder and a line here.
    from identity.activation.routes import bp as activation
    from identity.franceconnect.routes import bp as franceconnect
    from identity.keys.routes import bp as keys
    from identity.sessions.routes import bp as sessions
    return [keys, activation, sessions, franceconnect]


# One Batch for the three types, so a batch's agrément events come in one call, in their order.
_HOLDERS = Batch(project_agrement_holders)

MANIFEST = ServiceManifest(
    name="identity",
    folder="identity",
    summary="identity: accounts, credentials, activation, sessions and the portal's signing keys",
    settings=Settings,
    load_settings=load_settings,
    container=bootstrap,
    blueprints=_blueprints,
    # Who may activate follows the newest state of each agrément.
    projections={spec: _HOLDERS for spec in (AGREMENT_GRANTED, AGREMENT_MODIFIED, AGREMENT_WITHDRAWN)},
    publishes=(EMAIL_CONFIRMATION_REQUESTED, ACCOUNT_ACTIVATED),
    migrations="identity:migrations",
    default_port=8101,
)
