"""The alerts to the circonscriptions through the real handler (inbox, the `mails` row, the senders) on a migrated
SQLite database and the sink: each event delivered twice gives one mail to the circonscription's mailbox; a
declaration on time, an unknown circonscription or no mailbox configured are skipped with a log line (handled: no
row, no retry, never a dead letter)."""
import logging

import pytest
import sqlalchemy as sa

from notify.adapters.orm import mails
from notify.bootstrap import bootstrap
from notify.mails.delivery import Sender
from notify.settings import load_settings
from services.catalogue.agrement import CAPACITY_EXCEEDED, CONTRACT_DECLARED, OVER_CAPACITY_DECLARED
from services.db import upgrade
from services.events import Event
from services.inbox import handle_once

ADDRESSES = "Chartres=pmi.chartres@cd28.fr;Dreux=pmi.dreux@cd28.fr"


@pytest.fixture
def make_container(local_environ):
    made = []

    def make(addresses=ADDRESSES):
        settings = load_settings({**local_environ, "NOTIFY_CIRCONSCRIPTION_ADDRESSES": addresses,
                                  "PUBLIC_BASE_URL": "https://portail.example"})
        upgrade(settings.database_url, "notify:migrations")
        made.append(bootstrap(settings))
        return made[-1]
    yield make
    for container in made:
        container.engine.dispose()


def declared(late=True, circonscription="Chartres"):
    return CONTRACT_DECLARED.build("280001", {
        "declaration_id": "d-1", "contract_id": "c-1", "pmi_number": "280001", "circonscription": circonscription,
        "kind": "departure", "effective_date": "2026-03-02", "declared_at": "2026-03-16T09:05:00+00:00",
        "late": late, "over_capacity": False})


def exceeded(circonscription="Chartres"):
    return CAPACITY_EXCEEDED.build("280001", {
        "pmi_number": "280001", "circonscription": circonscription, "contract_id": "c-1", "declaration_id": "d-1",
        "exceedances": [{"date": "2026-03-02", "start": "08:00", "end": "12:30", "rules": ["places"],
                         "exceptional": False}]})


def over(circonscription="Dreux"):
    return OVER_CAPACITY_DECLARED.build("280002", {
        "declaration_id": "o-1", "pmi_number": "280002", "circonscription": circonscription,
        "start_date": "2026-03-02", "end_date": "2026-03-02", "reason": "Remplacement", "day_totals": {"2026-03-02": 7},
        "late": False})


def handle(container, event: Event) -> bool:
    return handle_once(container.session_factory, container.handlers()[event.type], event)


def sent(container):
    Sender(container.session_factory, container.transport, container.sender.addr_spec, [0.0]).drain()
    return sorted((caught.to, caught.subject) for caught in container.transport.messages())


def rows(container):
    with container.session_factory() as session:
        return session.execute(sa.select(sa.func.count()).select_from(mails)).scalar()


def test_each_alert_delivered_twice_reaches_its_circonscription_once(make_container):
    container = make_container()
    for event in (declared(), exceeded(), over()):
        assert handle(container, event)
        assert not handle(container, Event.from_dict(event.to_dict()))  # redelivered: the inbox knows it
    assert sent(container) == [
        ("pmi.chartres@cd28.fr", "Capacité d'accueil dépassée – assmat n° 280001 – portail des assistants maternels"),
        ("pmi.chartres@cd28.fr", "Déclaration tardive – assmat n° 280001 – portail des assistants maternels"),
        ("pmi.dreux@cd28.fr", "Accueil en surnombre – assmat n° 280002 – portail des assistants maternels"),
    ]
    assert all("https://portail.example/espace-pmi/declarations" in caught.text
               for caught in container.transport.messages())
    assert rows(container) == 3


def test_what_is_not_to_be_mailed_is_skipped_with_a_log_line_never_dead_lettered(make_container, caplog):
    container = make_container()
    with caplog.at_level(logging.INFO, logger="notify.mails.consumers"):
        assert handle(container, declared(late=False))               # on time: not news
        assert handle(container, exceeded(circonscription="Bonneval"))  # no mailbox for it
        assert handle(container, over(circonscription=""))
    skipped = [record for record in caplog.records if record.getMessage() == "mail skipped: not to be mailed"]
    assert [record.levelno for record in skipped] == [logging.INFO, logging.WARNING, logging.WARNING]
    assert "bonneval" in skipped[1].reason
    assert rows(container) == 0 and sent(container) == []


def test_without_mailboxes_every_alert_is_skipped_and_logged(make_container, caplog):
    container = make_container(addresses="")
    with caplog.at_level(logging.WARNING, logger="notify.mails.consumers"):
        for event in (declared(), exceeded(), over()):
            assert handle(container, event)
    skipped = [record for record in caplog.records if record.getMessage() == "mail skipped: not to be mailed"]
    assert len(skipped) == 3 and all("NOTIFY_CIRCONSCRIPTION_ADDRESSES is empty" in r.reason for r in skipped)
    assert rows(container) == 0
