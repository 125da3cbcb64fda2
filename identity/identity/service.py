"""identity declared once: the kernel derives its web app, worker, commands, queue and settings list from this."""
from __future__ import annotations

from identity.activation.cli import complete_registration_command
from identity.bootstrap import bootstrap
from identity.defences.throttle import purge_expired_keys
from identity.holders.consumers import project_agrement_holders
from identity.keys.cli import keys_command
from identity.settings import Settings, load_settings
from identity.staff.cli import staff_command
from identity.structures.cli import structures_command
from identity.structures.consumers import project_structure
from services.catalogue.agrement import (
    AGREMENT_GRANTED, AGREMENT_MODIFIED, AGREMENT_WITHDRAWN, STRUCTURE_CLOSED, STRUCTURE_MODIFIED,
    STRUCTURE_REGISTERED)
from services.catalogue.identity import (
    ACCOUNT_ACTIVATED, ACTIVATION_ADDRESS_REPLACED, ACTIVATION_ELSEWHERE_NOTICE, EMAIL_CHANGED,
    EMAIL_CONFIRMATION_REQUESTED, PASSWORD_CHANGED, PASSWORD_RESET_REQUESTED)
from services.manifest import Batch, ServiceManifest


def _blueprints():
    # One per capability: a new capability adds its folder and a line here.
    from identity.activation.routes import bp as activation
    from identity.audit.routes import bp as security
    from identity.captcha.routes import bp as captcha
    from identity.franceconnect.routes import bp as franceconnect
    from identity.keys.routes import bp as keys
    from identity.recovery.routes import bp as recovery
    from identity.sessions.routes import bp as sessions
    from identity.staff.routes import bp as staff
    return [keys, activation, sessions, recovery, staff, captcha, security, franceconnect]


def _init_app(app, container) -> None:
    # The captcha's answer is readable by tests only in local and test runs; elsewhere the route is not there.
    if container.settings.is_local:
        from identity.captcha.routes import test_hook_blueprint
        app.register_blueprint(test_hook_blueprint())


def _bench(_settings, argv) -> int:
    from identity.bench import run
    return run(argv)


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
    init_app=_init_app,
    # Who may activate follows the newest state of each agrément.
    projections={**{spec: _HOLDERS for spec in (AGREMENT_GRANTED, AGREMENT_MODIFIED, AGREMENT_WITHDRAWN)},
                 # MAM and RPE accounts follow the structures extract.
                 **{spec: project_structure for spec in (STRUCTURE_REGISTERED, STRUCTURE_MODIFIED, STRUCTURE_CLOSED)}},
    publishes=(EMAIL_CONFIRMATION_REQUESTED, ACCOUNT_ACTIVATED, ACTIVATION_ADDRESS_REPLACED,
               ACTIVATION_ELSEWHERE_NOTICE, PASSWORD_RESET_REQUESTED, PASSWORD_CHANGED, EMAIL_CHANGED),
    commands={"complete-registration": complete_registration_command, "staff": staff_command,
              "structures": structures_command, "keys": keys_command, "bench": _bench},
    background=(purge_expired_keys,),
    migrations="identity:migrations",
    default_port=8101,
)
