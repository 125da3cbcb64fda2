"""notify-svc declared once: the kernel derives its web app, worker, commands, queue and settings list from this."""
from __future__ import annotations

from notify.bootstrap import bootstrap
from notify.mails.commands import deliver_mails, purge_delivery_log
from notify.mails.consumers import CONSUMED
from notify.settings import Settings, load_settings
from services.catalogue.notify import MAIL_DELIVERED, MAIL_FAILED
from services.manifest import FromContainer, ServiceManifest


def _blueprints():
    from notify.mails.routes import bp as mails_bp
    from notify.sink.routes import bp
    return [bp, mails_bp]


def _mails_command(settings, argv) -> int:
    from notify.mails.commands import mails_command
    return mails_command(settings, argv)


def _bench(settings, argv) -> int:
    from notify.mails.commands import bench_command
    return bench_command(settings, argv)


MANIFEST = ServiceManifest(
    name="notify",
    folder="notify-svc",
    summary="notify-svc: outgoing mail, its delivery log and, in local runs, the sink that catches it",
    settings=Settings,
    load_settings=load_settings,
    container=bootstrap,
    blueprints=_blueprints,
    # Every event that must reach a person is a mail: each one counts, whatever their order. identity's account
    # events also feed the address book (applied only if newer, so order does not matter either).
    reactions={spec: FromContainer(lambda container, type_=spec.type: container.handlers()[type_])
               for spec in CONSUMED},
    publishes=(MAIL_DELIVERED, MAIL_FAILED),
    commands={"mails": _mails_command, "bench": _bench},
    # The handlers only queue mail; these threads send it, outside the consumer's transactions.
    background=(deliver_mails, purge_delivery_log),
    migrations="notify:migrations",
    default_port=8105,
)
