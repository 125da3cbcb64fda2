"""Reports of a change of situation and staff decisions on agréments, through the API with tokens identity signs:
the holder alone reports, R421-41's 15 days, attachments checked by content, the workflow and its events, and the
back office scoped by circonscription."""
from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
import responses
import sqlalchemy as sa

from agrement import create_app
from agrement.adapters.orm import metadata, situation_reports
from agrement.bootstrap import bootstrap
from agrement.extract.commands import import_extract
from agrement.extract.domain.demo import generate_demo_extract
from agrement.settings import Settings
from services.auth import generate_signing_key, issue_token, public_jwks
from services.outbox import OUTBOX

JWKS = "http://identity.test/.well-known/jwks.json"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def container(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'a.sqlite3'}",
                        broker_url=f"sqlitebus:///{tmp_path / 'bus.sqlite3'}", identity_jwks_url=JWKS,
                        report_attachment_max_bytes=2000)
    container = bootstrap(settings)
    metadata.create_all(container.engine)
    import_extract(container.session_factory, generate_demo_extract(count=10).splitlines(keepends=True), "d.csv")
    return container


@pytest.fixture
def client(container):
    return create_app(container=container).test_client()


@pytest.fixture
def key():
    signing_key = generate_signing_key()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(JWKS, json=public_jwks([signing_key]))
        yield signing_key


def assmat(key, pmi_number="280001"):
    token = issue_token(key, subject="acc", role="assmat", issuer="assmat-identity", audience="assmat-portal",
                        lifetime_seconds=60, extra={"pmi_number": pmi_number})
    return {"Authorization": f"Bearer {token}"}


def staff(key, role="pmi_agent", circonscriptions=("Chartres",)):
    token = issue_token(key, subject="staff-1", role=role, issuer="assmat-identity", audience="assmat-portal",
                        lifetime_seconds=60, extra={"roles": [role], "circonscriptions": list(circonscriptions),
                                                    "account_type": "staff", "name": "Agnès Agent"})
    return {"Authorization": f"Bearer {token}"}


def events(container, type_=None):
    with container.session_factory() as session:
        found = [json.loads(p) for p in session.execute(sa.select(OUTBOX.c.payload).order_by(OUTBOX.c.position))
                 .scalars()]
    return [event for event in found if type_ is None or event["type"] == type_]


def in_days(days: int) -> str:
    return (dt.date.today() + dt.timedelta(days=days)).isoformat()


def moving(**overrides):
    return {"kind": "moving", "text": "Nous déménageons.", "moving_date": in_days(20),
            "new_address_line": "3 rue des Lilas", "new_postcode": "28000", "new_commune": "Chartres", **overrides}


def report_count(container) -> int:
    with container.session_factory() as session:
        return session.execute(sa.select(sa.func.count()).select_from(situation_reports)).scalar_one()


def test_a_move_reported_in_time_is_received_routed_to_her_circonscription_and_told(client, container, key):
    attachment = {"file_name": "bail.pdf", "content": base64.b64encode(PDF).decode()}
    response = client.post("/api/reports", json=moving(attachments=[attachment]), headers=assmat(key))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["status"], body["circonscription"], body["kind"]) == ("received", "Chartres", "moving")
    assert body["details"]["new_postcode"] == "28000"
    assert [a["content_type"] for a in body["attachments"]] == ["application/pdf"]
    [event] = events(container, "report.received")
    assert event["subject"] == body["id"] and event["data"]["last_name"] == "DUPONT"
    assert "email" in event["data"]   # the extract's address (None for 280001: the mail then needs identity's)
    mine = client.get("/api/reports/mine", headers=assmat(key)).get_json()["reports"]
    assert [r["id"] for r in mine] == [body["id"]]


@pytest.mark.parametrize("days,accepted", [(14, False), (15, True)])
def test_r421_41_a_move_is_told_at_least_15_days_before_moving_in(client, container, key, days, accepted):
    response = client.post("/api/reports", json=moving(moving_date=in_days(days)), headers=assmat(key))
    assert (response.status_code == 201) is accepted, response.get_json()
    if not accepted:
        error = response.get_json()["error"]
        assert error["code"] == "invalid_report" and "R421-41" in error["details"]["fields"]["moving_date"]


@pytest.mark.parametrize("name,content,fragment", [
    ("photo.pdf", PNG, "ne correspond pas à son nom"),        # a PNG named .pdf
    ("bail.pdf", b"MZ\x90\x00 not a pdf", "ni un PDF ni une image"),
    ("gros.pdf", PDF + b"0" * 3000, "taille maximale"),
])
def test_an_attachment_not_what_its_name_says_or_too_big_is_refused_and_nothing_saved(client, container, key, name,
                                                                                       content, fragment):
    body = moving(attachments=[{"file_name": name, "content": base64.b64encode(content).decode()}])
    response = client.post("/api/reports", json=body, headers=assmat(key))
    assert response.status_code == 400
    assert fragment in response.get_json()["error"]["details"]["fields"]["attachments"]
    assert report_count(container) == 0 and events(container, "report.received") == []


def test_bad_input_is_refused_field_by_field(client, container, key):
    response = client.post("/api/reports", json={"kind": "moving", "moving_date": "2024-13-40",
                                                 "new_postcode": "28"}, headers=assmat(key))
    fields = response.get_json()["error"]["details"]["fields"]
    assert response.status_code == 400 and {"moving_date", "new_postcode", "new_address_line"} <= set(fields)
    assert client.post("/api/reports", json={"kind": "nope"}, headers=assmat(key)).status_code == 400
    assert client.post("/api/reports", data="x", headers=assmat(key)).status_code == 400
    assert client.post("/api/reports", json={"kind": "other"}, headers=assmat(key)).get_json()["error"][
        "details"]["fields"]["text"]
    assert report_count(container) == 0


def test_only_the_holder_reports_on_her_agrement(client, container, key):
    response = client.post("/api/reports", json=moving(pmi_number="280002"), headers=assmat(key))
    assert (response.status_code, response.get_json()["error"]["code"]) == (403, "not_holder")
    assert client.post("/api/reports", json=moving(), headers=staff(key)).status_code == 403
    assert report_count(container) == 0


def test_the_workflow_moves_on_with_an_event_each_step_and_a_refusal_needs_a_message(client, container, key):
    report_id = client.post("/api/reports", json={"kind": "household", "text": "Naissance"},
                            headers=assmat(key)).get_json()["id"]
    url = f"/api/backoffice/reports/{report_id}/status"
    assert client.post(url, json={"status": "in_progress"}, headers=staff(key)).get_json()["status"] == "in_progress"
    refused = client.post(url, json={"status": "refused"}, headers=staff(key))
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (400, "invalid_message")
    assert "message" in refused.get_json()["error"]["details"]["fields"]
    done = client.post(url, json={"status": "refused", "message": "Pièce manquante"}, headers=staff(key))
    assert done.get_json()["staff_message"] == "Pièce manquante"
    again = client.post(url, json={"status": "processed"}, headers=staff(key))
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "invalid_transition")
    assert client.post(url, json={"status": "archived"}, headers=staff(key)).status_code == 400
    steps = [(e["data"]["previous_status"], e["data"]["status"]) for e in events(container, "report.status_changed")]
    assert steps == [("received", "in_progress"), ("in_progress", "refused")]
    assert events(container, "report.status_changed")[-1]["data"]["message"] == "Pièce manquante"


def test_agents_see_and_move_only_the_reports_of_their_circonscription(client, container, key):
    report_id = client.post("/api/reports", json=moving(), headers=assmat(key)).get_json()["id"]
    ours = client.get("/api/backoffice/reports", headers=staff(key)).get_json()["reports"]
    assert [r["id"] for r in ours] == [report_id] and ours[0]["last_name"] == "DUPONT"
    other = staff(key, circonscriptions=("Dreux",))
    assert client.get("/api/backoffice/reports", headers=other).get_json()["reports"] == []
    assert client.get(f"/api/backoffice/reports/{report_id}", headers=other).status_code == 404
    assert client.post(f"/api/backoffice/reports/{report_id}/status", json={"status": "processed"},
                       headers=other).status_code == 404
    central = staff(key, role="pmi_central", circonscriptions=())
    assert len(client.get("/api/backoffice/reports", headers=central).get_json()["reports"]) == 1
    assert client.get("/api/backoffice/reports", headers=assmat(key)).status_code == 403


def test_an_attachment_is_served_to_the_agent_with_its_checked_type(client, container, key):
    attachment = {"file_name": "plan.png", "content": base64.b64encode(PNG).decode()}
    body = client.post("/api/reports", json=moving(attachments=[attachment]), headers=assmat(key)).get_json()
    url = f"/api/backoffice/reports/{body['id']}/attachments/{body['attachments'][0]['id']}"
    response = client.get(url, headers=staff(key))
    assert (response.status_code, response.content_type, response.data) == (200, "image/png", PNG)
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert client.get(url, headers=staff(key, circonscriptions=("Dreux",))).status_code == 404


def test_staff_decisions_change_the_agrement_write_its_history_and_are_events(client, container, key):
    url = "/api/backoffice/agrements/280001/decisions"
    stop = client.post(url, json={"action": "temporary_stop", "reason": "Congé maternité"}, headers=staff(key))
    assert stop.status_code == 200, stop.get_json()
    assert client.post(url, json={"action": "suspend"}, headers=staff(key)).get_json()["error"]["details"][
        "fields"]["reason"]
    assert client.post(url, json={"action": "suspend", "reason": "Enquête en cours"},
                       headers=staff(key)).status_code == 200
    assert client.post(url, json={"action": "resume"}, headers=staff(key)).status_code == 200
    modify = client.post(url, json={"action": "modify", "capacity_total": 3, "capacity_under_3": 2},
                         headers=staff(key))
    assert modify.status_code == 200, modify.get_json()
    assert client.get("/api/agrements/me", headers=assmat(key)).get_json()["capacity_total"] == 3
    kinds = [(e["type"], e["data"]["status"]) for e in events(container) if e["subject"] == "280001"][1:]
    assert kinds == [("agrement.modified", "temporary_stop"), ("agrement.withdrawn", "suspended"),
                     ("agrement.modified", "active"), ("agrement.modified", "active")]
    assert events(container, "agrement.modified")[-1]["data"]["changed_fields"] == ["capacity_total",
                                                                                    "capacity_under_3"]
    history = client.get("/api/agrements/me/history", headers=assmat(key)).get_json()["history"]
    assert [h["action"] for h in history] == ["modify", "resume", "suspend", "temporary_stop", "registered"]
    assert history[2]["reason"] == "Enquête en cours" and history[2]["changes"]["status"] == ["temporary_stop",
                                                                                              "suspended"]


@pytest.mark.parametrize("body,field", [
    ({"action": "modify", "capacity_total": 5}, "capacity_total"),           # L421-4: 4 places at most
    ({"action": "modify", "capacity_total": 2, "capacity_under_3": 3}, "capacity_under_3"),
    ({"action": "modify", "validity_end": "2000-01-01"}, "validity_end"),
    ({"action": "resume"}, "action"),                                          # not stopped: nothing to resume
    ({"action": "explode"}, "action"),
])
def test_impossible_decisions_are_refused_and_change_nothing(client, container, key, body, field):
    before = client.get("/api/agrements/me", headers=assmat(key)).get_json()
    response = client.post("/api/backoffice/agrements/280001/decisions", json=body, headers=staff(key))
    assert response.status_code == 400 and field in response.get_json()["error"]["details"]["fields"]
    assert client.get("/api/agrements/me", headers=assmat(key)).get_json() == before
    assert len(events(container)) == 10


def test_an_agent_of_another_circonscription_cannot_see_or_decide(client, container, key):
    other = staff(key, circonscriptions=("Dreux",))
    assert client.get("/api/backoffice/agrements/280001", headers=other).status_code == 404
    assert client.post("/api/backoffice/agrements/280001/decisions", json={"action": "withdraw", "reason": "x"},
                       headers=other).status_code == 404
    shown = client.get("/api/backoffice/agrements/280001", headers=staff(key)).get_json()
    assert shown["circonscription"] == "Chartres" and shown["history"][0]["action"] == "registered"
    assert client.get("/api/backoffice/agrements/abc", headers=staff(key)).status_code == 404


def test_publication_choices_are_recorded_as_events_and_listed_as_oppositions_in_scope(client, container, key):
    url = "/api/backoffice/agrements/280001/decisions"
    assert client.post(url, json={"action": "publication", "publication": "no_contact"},
                       headers=staff(key)).status_code == 200
    last = events(container, "agrement.modified")[-1]["data"]
    assert (last["publication_opposed"], last["publication_contact_hidden"]) == (False, True)
    assert last["changed_fields"] == ["publication_contact_hidden"]
    listed = client.get("/api/backoffice/oppositions", headers=staff(key)).get_json()["agrements"]
    assert [(a["pmi_number"], a["choice"]) for a in listed] == [("280001", "no_contact")]   # Chartres only
    assert client.post(url, json={"action": "publication", "publication": "opposed"},
                       headers=staff(key)).status_code == 200
    last = events(container, "agrement.modified")[-1]["data"]
    assert (last["publication_opposed"], last["publication_contact_hidden"]) == (True, False)
    assert client.get("/api/backoffice/oppositions", headers=staff(key)).get_json()["agrements"][0]["choice"] == \
        "opposed"
    # Dreux's agent sees Dreux's opposition of the demo (FAUCHER), never Chartres'.
    dreux = client.get("/api/backoffice/oppositions", headers=staff(key, circonscriptions=("Dreux",)))
    assert [a["last_name"] for a in dreux.get_json()["agrements"]] == ["FAUCHER"]
    same = client.post(url, json={"action": "publication", "publication": "opposed"}, headers=staff(key))
    assert same.status_code == 400 and "publication" in same.get_json()["error"]["details"]["fields"]
    assert client.post(url, json={"action": "publication", "publication": "x"}, headers=staff(key)).status_code == 400


def test_an_extract_after_a_decision_keeps_the_contact_hidden_choice(client, container, key):
    client.post("/api/backoffice/agrements/280001/decisions", json={"action": "publication",
                                                                   "publication": "no_contact"}, headers=staff(key))
    before = len(events(container))
    import_extract(container.session_factory, generate_demo_extract(count=10).splitlines(keepends=True), "d.csv")
    # Same extract again: nothing changed for it (the record and its fingerprint are the extract's), no event.
    assert len(events(container)) == before
    assert client.get("/api/agrements/me", headers=assmat(key)).get_json()["publication_contact_hidden"] is True


def test_flagged_declarations_come_from_the_registered_sources_within_the_scope(client, key):
    from agrement.backoffice import declarations
    asked = []

    def contracts_source(session, circonscriptions):
        # A source that forgets to filter: the back office filters again.
        asked.append(circonscriptions)
        return [{"kind": "late", "pmi_number": "280001", "first_name": "Marie", "last_name": "DUPONT",
                 "circonscription": "Chartres", "at": "2027-01-10", "summary": "Arrivée déclarée 12 jours après"},
                {"kind": "over_capacity", "pmi_number": "280002", "first_name": "Luc", "last_name": "MARTIN",
                 "circonscription": "Dreux", "at": "2027-01-11", "summary": "5 enfants le mardi 8 h"}]

    assert client.get("/api/backoffice/declarations", headers=staff(key)).get_json() == {"declarations": []}
    declarations.register(contracts_source)
    try:
        rows = client.get("/api/backoffice/declarations", headers=staff(key)).get_json()["declarations"]
        assert [(r["pmi_number"], r["kind_label"]) for r in rows] == [
            ("280001", "Déclaration tardive (plus de 8 jours, R421-39)")]
        assert asked == [("Chartres",)]
        central = client.get("/api/backoffice/declarations", headers=staff(key, role="pmi_central",
                                                                           circonscriptions=()))
        assert [r["pmi_number"] for r in central.get_json()["declarations"]] == ["280002", "280001"]
    finally:
        declarations.unregister(contracts_source)
