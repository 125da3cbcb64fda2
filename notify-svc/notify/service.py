"""notify-svc declared once: the kernel derives its web app, worker, commands, queue and settings list from this."""
from __future__ import annotations

from notify.bootstrap import bootstrap
from notify.mails.consumers import MAILS
from notify.settings import Settings, load_settings
from services.catalogue.notify import MAIL_DELIVERED, MAIL_FAILED
from services.manifest import FromContainer, ServiceManifest


def _blueprints():
    from notify.sink.routes import bp
    return [bp]


MANIFEST = ServiceManifest(
    name="notify",
    folder="notify-svc",
    summary="notify-svc: outgoing mail, its delivery log and, in local runs, the sink that catches it",
    settings=Settings,
    load_settings=load_settings,
    container=bootstrap,
    blueprints=_blueprints,
    # Every event that must reach a person is a mail: each one counts, whatever their order.
    reactions={spec: FromContainer(lambda container, type_=spec.type: container.handlers()[type_]) for spec in MAILS},
    publishes=(MAIL_DELIVERED, MAIL_FAILED),
    migrations="notify:migrations",
    default_port=8105,
)
