"""MAM and RPE accounts from the structure events: created without a password, first password by reset, login by
e-mail, e-mail unique across assmats and structures (a conflict is a status and a log line, not a crash), closed
structures disabled, a change of address told to the previous one."""
import logging

import pytest
import sqlalchemy as sa

from identity.adapters.orm import accounts, structures
from identity.settings import Settings
from identity.structures.consumers import project_structure
from services.catalogue import agrement as agrement_events
from services.inbox import handle_once


@pytest.fixture
def settings(settings_on_both_stacks) -> Settings:
    return settings_on_both_stacks


PASSWORD = "la phrase de passe de la mam"


def structure_event(structure_id="MAM28-01", spec=agrement_events.STRUCTURE_REGISTERED, kind="mam", **fields):
    key = f"{kind}:{structure_id}"
    data = {name: None for name in spec.required}
    data.update(structure_key=key, kind=kind, structure_id=structure_id, name="MAM Les P'tits Loups",
                email="contact@ptitsloups.fr", communes=[], status="open", changed_fields=[])
    data.update(fields)
    return spec.build(key, data)


def deliver(container, event):
    handle_once(container.session_factory, project_structure, event)


def structure_row(container, key="mam:MAM28-01"):
    with container.session_factory() as session:
        return session.execute(sa.select(structures).where(structures.c.structure_key == key)).mappings().first()


def first_password(client, outbox, email="contact@ptitsloups.fr", kind="mam"):
    assert client.post("/api/recovery/request", json={"email": email, "account_type": kind}).status_code == 202
    mail = outbox("identity.password_reset_requested")[-1]["data"]
    assert mail["first_password"] is True and mail["account_type"] == kind
    token = mail["reset_url"].split("jeton=", 1)[1]
    return client.post("/api/recovery/complete", json={"token": token, "password": PASSWORD})


def test_a_mam_gets_an_account_sets_its_first_password_by_reset_and_logs_in_by_email(client, container, outbox):
    deliver(container, structure_event())
    before = client.post("/api/sessions", json={"login": "contact@ptitsloups.fr", "password": PASSWORD})
    assert before.status_code == 401  # no password yet
    assert first_password(client, outbox).json == {"account_type": "mam", "display_name": "MAM Les P'tits Loups",
                                                   "login": "contact@ptitsloups.fr"}
    response = client.post("/api/sessions", json={"login": "contact@ptitsloups.fr", "password": PASSWORD,
                                                  "account_type": "mam"})
    assert response.status_code == 200
    assert response.json["account"]["role"] == "mam" and response.json["account"]["pmi_number"] is None


def test_an_rpe_too(client, container, outbox):
    deliver(container, structure_event("RPE28-01", kind="rpe", name="RPE de Chartres", email="rpe@chartres.fr",
                                       communes=["28085"], opening_hours="lun-ven 9h-17h", phone="02 37 00 00 00"))
    assert first_password(client, outbox, "rpe@chartres.fr", "rpe").status_code == 200
    response = client.post("/api/sessions", json={"login": "rpe@chartres.fr", "password": PASSWORD})
    assert response.json["account"]["role"] == "rpe"


def test_an_address_already_an_assmats_is_refused_for_a_structure_as_a_status(client, container, flow, caplog):
    flow.activate(email="contact@ptitsloups.fr")
    with caplog.at_level(logging.WARNING, logger="identity.structures"):
        deliver(container, structure_event())
    row = structure_row(container)
    assert (row["conflict"], row["account_id"]) == ("email_taken", None)
    assert any(r.name == "identity.structures" and r.conflict == "email_taken" for r in caplog.records)
    with container.session_factory() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(accounts)
                               .where(accounts.c.role == "mam")).scalar() == 0
    # the next event with a free address creates the account
    deliver(container, structure_event(spec=agrement_events.STRUCTURE_MODIFIED, email="mam@ptitsloups.fr"))
    row = structure_row(container)
    assert row["conflict"] is None and row["account_id"]


def test_an_address_already_a_structures_is_refused_at_activation(client, container, flow):
    deliver(container, structure_event())
    response = client.post("/api/activation/complete", json={
        "ticket": flow.ticket(), "email": "Contact@ptitsloups.fr", "password": "correct horse battery"})
    assert (response.status_code, response.json["error"]["code"]) == (409, "email_taken")


def test_a_new_address_is_applied_and_the_previous_one_told(client, container, outbox):
    deliver(container, structure_event())
    client.post("/api/recovery/request", json={"email": "contact@ptitsloups.fr", "account_type": "mam"})
    old_link = outbox("identity.password_reset_requested")[-1]["data"]["reset_url"].split("jeton=", 1)[1]
    deliver(container, structure_event(spec=agrement_events.STRUCTURE_MODIFIED, email="nouvelle@ptitsloups.fr"))
    told = outbox("identity.email_changed")
    assert len(told) == 1
    assert told[0]["data"]["previous_email"] == "contact@ptitsloups.fr"
    assert told[0]["data"]["new_email_masked"] == "no•••@ptitsloups.fr"
    response = client.post("/api/recovery/complete", json={"token": old_link, "password": PASSWORD})
    assert response.json["error"]["code"] == "reset_link_used"  # the link that went to the old address is dead
    assert first_password(client, outbox, "nouvelle@ptitsloups.fr").status_code == 200


def test_a_closed_structure_is_disabled_and_reopened_by_a_later_event(client, container, outbox):
    deliver(container, structure_event())
    first_password(client, outbox)
    refresh_token = client.post("/api/sessions", json={"login": "contact@ptitsloups.fr",
                                                       "password": PASSWORD}).json["refresh_token"]
    deliver(container, structure_event(spec=agrement_events.STRUCTURE_CLOSED, status="closed"))
    assert structure_row(container)["status"] == "closed"
    response = client.post("/api/sessions", json={"login": "contact@ptitsloups.fr", "password": PASSWORD})
    assert (response.status_code, response.json["error"]["code"]) == (403, "account_disabled")
    assert client.post("/api/sessions/refresh", json={"refresh_token": refresh_token}).status_code == 401
    deliver(container, structure_event(spec=agrement_events.STRUCTURE_MODIFIED))
    assert client.post("/api/sessions", json={"login": "contact@ptitsloups.fr",
                                              "password": PASSWORD}).status_code == 200


def test_a_structure_without_an_email_has_no_account_and_says_why(container):
    deliver(container, structure_event(email=None))
    assert structure_row(container)["conflict"] == "no_email"
