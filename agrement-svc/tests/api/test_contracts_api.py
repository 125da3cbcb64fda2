"""Contracts, own children and over-capacity over HTTP, with tokens signed like identity's."""
from __future__ import annotations

import datetime as dt

import pytest
import responses
import sqlalchemy as sa

from agrement import create_app
from agrement.adapters.orm import contract_declarations, contracts, metadata
from agrement.bootstrap import bootstrap
from agrement.contracts.commands import local_day, now
from agrement.extract.commands import import_extract
from agrement.extract.domain.demo import generate_demo_extract
from agrement.settings import Settings
from services.auth import generate_signing_key, issue_token, public_jwks

JWKS = "http://identity.test/.well-known/jwks.json"
TODAY = local_day(now())
MONDAY = TODAY - dt.timedelta(days=TODAY.weekday())
PUPIL = TODAY.replace(year=TODAY.year - 6, day=1)
BABY = TODAY.replace(year=TODAY.year - 1, day=1)


@pytest.fixture
def container(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'a.sqlite3'}",
                        broker_url=f"sqlitebus:///{tmp_path / 'bus.sqlite3'}", identity_jwks_url=JWKS)
    built = bootstrap(settings)
    metadata.create_all(built.engine)
    import_extract(built.session_factory, generate_demo_extract(count=10).splitlines(keepends=True), "d.csv")
    return built   # 280001: Chartres, 4 places of which 3 under 3; 280002: Dreux


@pytest.fixture
def client(container):
    return create_app(container=container).test_client()


@pytest.fixture
def key():
    signing_key = generate_signing_key()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(JWKS, json=public_jwks([signing_key]))
        yield signing_key


def bearer(key, role="assmat", pmi_number="280001", circonscriptions=None):
    extra = {"pmi_number": pmi_number} if role == "assmat" else {}
    if circonscriptions is not None:
        extra["circonscriptions"] = circonscriptions
    token = issue_token(key, subject="acc", role=role, issuer="assmat-identity", audience="assmat-portal",
                        lifetime_seconds=60, extra=extra)
    return {"Authorization": f"Bearer {token}"}


def arrival(name="Léa", birth=PUPIL, start=MONDAY, slots=((0, "08:00", "18:00"),), **more):
    return {"child_first_name": name, "child_birth_date": birth.isoformat(), "start_date": start.isoformat(),
            "schedule": [{"weekday": d, "start": s, "end": e} for d, s, e in slots],
            "representatives": [{"name": "Paul Martin", "phone": "06 12 34 56 78"}], **more}


def events(container, kind):
    with container.session_factory() as session:
        return [row for row in session.execute(sa.select(metadata.tables['outbox'].c.event_type)).scalars() if row == kind]


def test_an_arrival_is_declared_listed_with_its_deadline_and_announced(client, key, container):
    response = client.post("/api/contracts", json=arrival(), headers=bearer(key))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["late"] is False and body["over_capacity"] is False
    assert body["deadline"] == (MONDAY + dt.timedelta(days=8)).isoformat()    # R421-39
    listed = client.get("/api/contracts", headers=bearer(key)).get_json()["contracts"]
    assert [(c["child_first_name"], c["declarations"][0]["kind"]) for c in listed] == [("Léa", "arrival")]
    assert client.get("/api/contracts", headers=bearer(key, pmi_number="280002")).get_json()["contracts"] == []
    assert len(events(container, "contract.declared")) == 1


def test_an_arrival_declared_after_8_days_is_flagged_late(client, key):
    start = TODAY - dt.timedelta(days=9)
    body = client.post("/api/contracts", json=arrival(start=start), headers=bearer(key)).get_json()
    assert body["late"] is True
    flagged = client.get("/api/backoffice/contract-declarations?flagged=1",
                         headers=bearer(key, role="pmi_agent", circonscriptions=["Chartres"])).get_json()
    assert [d["late"] for d in flagged["declarations"]] == [True]


@pytest.mark.parametrize("change,field", [
    ({"child_birth_date": (TODAY + dt.timedelta(days=1)).isoformat()}, "child_birth_date"),
    ({"child_birth_date": "2026-02-30"}, "child_birth_date"),
    ({"child_first_name": "  "}, "child_first_name"),
    ({"schedule": [{"weekday": 0, "start": "18:00", "end": "08:00"}]}, "schedule"),
    ({"schedule": [{"weekday": 0, "start": "08:00", "end": "12:00"}, {"weekday": 0, "start": "11:00",
                                                                       "end": "13:00"}]}, "schedule"),
    ({"schedule": [{"weekday": 7, "start": "08:00", "end": "12:00"}]}, "schedule"),
    ({"schedule": "lundi"}, "schedule"),
    ({"representatives": [{"name": "Paul"}]}, "representatives"),
    ({"representatives": [{"name": "Paul", "email": "pas-une-adresse"}]}, "representatives"),
    ({"start_date": (PUPIL - dt.timedelta(days=1)).isoformat()}, "start_date"),
])
def test_bad_input_is_refused_field_by_field_and_nothing_is_saved(client, key, container, change, field):
    response = client.post("/api/contracts", json={**arrival(), **change}, headers=bearer(key))
    assert response.status_code == 400
    assert field in response.get_json()["error"]["details"]["fields"]
    with container.session_factory() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(contracts)).scalar() == 0


def test_overlapping_contracts_for_the_same_child_are_refused(client, key):
    assert client.post("/api/contracts", json=arrival(), headers=bearer(key)).status_code == 201
    again = client.post("/api/contracts", json=arrival(name="léa", start=MONDAY + dt.timedelta(days=30)),
                        headers=bearer(key))
    assert again.status_code == 400 and "start_date" in again.get_json()["error"]["details"]["fields"]


def test_over_capacity_warns_before_saving_then_is_flagged_to_the_circonscription(client, key, container):
    for n in range(4):
        assert client.post("/api/contracts", json=arrival(name=f"Enfant{'abcd'[n]}"),
                           headers=bearer(key)).status_code == 201
    fifth = arrival(name="Cinquième", slots=((0, "16:00", "19:00"),))
    warned = client.post("/api/contracts", json=fifth, headers=bearer(key))
    assert warned.status_code == 409
    error = warned.get_json()["error"]
    assert error["code"] == "over_capacity"
    assert error["details"]["exceedances"][0]["start"] == "16h00"
    assert error["details"]["exceedances"][0]["end"] == "18h00"
    assert "places" in error["details"]["exceedances"][0]["rules"]
    with container.session_factory() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(contracts)).scalar() == 4
    confirmed = client.post("/api/contracts", json={**fifth, "confirm_over_capacity": True}, headers=bearer(key))
    assert confirmed.status_code == 201 and confirmed.get_json()["over_capacity"] is True
    assert len(events(container, "capacity.exceeded")) == 1
    chartres = client.get("/api/backoffice/contract-declarations?flagged=1",
                          headers=bearer(key, role="pmi_agent", circonscriptions=["Chartres"])).get_json()
    assert [d["child_first_name"] for d in chartres["declarations"]] == ["Cinquième"]
    dreux = client.get("/api/backoffice/contract-declarations",
                       headers=bearer(key, role="pmi_agent", circonscriptions=["Dreux"])).get_json()
    assert dreux["declarations"] == []
    central = client.get("/api/backoffice/contract-declarations", headers=bearer(key, role="pmi_central")).get_json()
    assert len(central["declarations"]) == 5
    assert client.get("/api/backoffice/contract-declarations", headers=bearer(key)).status_code == 403
    # The back office's list of flagged declarations (the reports half's page) reads the same, scoped alike.
    flagged = client.get("/api/backoffice/declarations",
                         headers=bearer(key, role="pmi_agent", circonscriptions=["Chartres"])).get_json()
    assert [row["kind"] for row in flagged["declarations"]] == ["over_capacity"]
    assert "capacité dépassée" in flagged["declarations"][0]["summary"]
    assert client.get("/api/backoffice/declarations", headers=bearer(
        key, role="pmi_agent", circonscriptions=["Dreux"])).get_json()["declarations"] == []


def test_own_under_3s_take_no_place_but_count_in_the_4_under_3(client, key):
    # 280001: 4 places, 3 under 3. Her own under-3 child (L421-4, 2021): 3 cared babies + her own = 4 under 3, fine.
    assert client.post("/api/own-children", json={"first_name": "Tom", "birth_date": BABY.isoformat()},
                       headers=bearer(key)).status_code == 201
    for name in ("Ana", "Bea", "Cle"):
        assert client.post("/api/contracts", json=arrival(name=name, birth=BABY),
                           headers=bearer(key)).status_code == 201
    # a 4th place, taken by a pupil: 4 places used, but still 4 under 3 -> allowed
    assert client.post("/api/contracts", json=arrival(name="Dan"), headers=bearer(key)).status_code == 201
    children = client.get("/api/own-children", headers=bearer(key)).get_json()["children"]
    assert [(c["first_name"], c["counted_in"]) for c in children] == [("Tom", "under_3")]
    # a second own baby makes 5 under 3
    assert client.post("/api/own-children", json={"first_name": "Zoé", "birth_date": BABY.isoformat()},
                       headers=bearer(key)).status_code == 201
    week = client.get(f"/api/capacity/week?from={MONDAY.isoformat()}", headers=bearer(key)).get_json()
    monday = week["days"][0]["intervals"]
    assert monday[0]["under_3"] == 5 and monday[0]["cared"] == 4 and monday[0]["breaches"]


@pytest.mark.parametrize("payload,field", [
    ({"first_name": "Tom", "birth_date": (TODAY + dt.timedelta(days=3)).isoformat()}, "birth_date"),
    ({"first_name": "", "birth_date": BABY.isoformat()}, "first_name"),
    ({"first_name": "Tom", "birth_date": "demain"}, "birth_date"),
])
def test_own_children_bad_input(client, key, payload, field):
    response = client.post("/api/own-children", json=payload, headers=bearer(key))
    assert response.status_code == 400 and field in response.get_json()["error"]["details"]["fields"]


def test_an_own_child_is_removed_only_by_its_parent(client, key):
    child_id = client.post("/api/own-children", json={"first_name": "Tom", "birth_date": BABY.isoformat()},
                           headers=bearer(key)).get_json()["id"]
    assert client.delete(f"/api/own-children/{child_id}", headers=bearer(key, pmi_number="280002")).status_code == 404
    assert client.delete(f"/api/own-children/{child_id}", headers=bearer(key)).status_code == 204


def test_changes_and_departure(client, key, container):
    contract_id = client.post("/api/contracts", json=arrival(), headers=bearer(key)).get_json()["contract_id"]
    changed = client.post(f"/api/contracts/{contract_id}/changes", headers=bearer(key), json={
        "effective_date": TODAY.isoformat(), "schedule": [{"weekday": 2, "start": "09:00", "end": "12:00"}]})
    assert changed.status_code == 201, changed.get_json()
    before = client.post(f"/api/contracts/{contract_id}/departure", headers=bearer(key),
                         json={"end_date": (MONDAY - dt.timedelta(days=1)).isoformat()})
    assert before.status_code == 400 and "end_date" in before.get_json()["error"]["details"]["fields"]
    other = client.post(f"/api/contracts/{contract_id}/departure", headers=bearer(key, pmi_number="280002"),
                        json={"end_date": TODAY.isoformat()})
    assert other.status_code == 404
    gone = client.post(f"/api/contracts/{contract_id}/departure", headers=bearer(key),
                       json={"end_date": TODAY.isoformat()})
    assert gone.status_code == 201
    twice = client.post(f"/api/contracts/{contract_id}/departure", headers=bearer(key),
                        json={"end_date": TODAY.isoformat()})
    assert twice.status_code == 409
    found = client.get(f"/api/contracts/{contract_id}", headers=bearer(key)).get_json()
    assert [d["kind"] for d in found["declarations"]] == ["arrival", "change", "departure"]
    assert found["schedule"] == [{"weekday": 2, "start": "09:00", "end": "12:00"}]
    with container.session_factory() as session:
        kinds = session.execute(sa.select(contract_declarations.c.kind)).scalars().all()
    assert sorted(kinds) == ["arrival", "change", "departure"]


def test_exceptional_over_capacity_is_declared_with_day_totals_and_lifts_the_limits(client, key):
    for n in range(4):
        client.post("/api/contracts", json=arrival(name=f"Enfant{'abcd'[n]}"), headers=bearer(key))
    start = MONDAY + dt.timedelta(days=7)
    declared = client.post("/api/over-capacity", headers=bearer(key), json={
        "reason": "Vacances scolaires", "start_date": start.isoformat(), "end_date": start.isoformat()})
    assert declared.status_code == 201, declared.get_json()
    assert declared.get_json()["day_totals"] == {start.isoformat(): 4}
    fifth = arrival(name="Cinquième", start=start, slots=((0, "09:00", "12:00"),))
    fifth["schedule"] = [{"weekday": 0, "start": "09:00", "end": "12:00"}]
    # L421-4 III: on the declared Monday a 5th child is allowed; the Monday after, it is not
    response = client.post("/api/contracts", json=fifth, headers=bearer(key))
    assert response.status_code == 409
    dates = {e["date"] for e in response.get_json()["error"]["details"]["exceedances"]}
    assert start.isoformat() not in dates and (start + dt.timedelta(days=7)).isoformat() in dates


@pytest.mark.parametrize("payload,field", [
    ({"reason": "", "start_date": "2026-07-01", "end_date": "2026-07-02"}, "reason"),
    ({"reason": "x", "start_date": "2026-07-03", "end_date": "2026-07-01"}, "end_date"),
    ({"reason": "x", "start_date": "2026-01-01", "end_date": "2026-03-01"}, "end_date"),   # 60 days (D421-17)
    ({"reason": "x", "start_date": "2026-07-01", "end_date": "2026-07-01", "day_totals": {"2026-07-01": "dix"}},
     "day_totals"),
])
def test_over_capacity_bad_input(client, key, payload, field):
    response = client.post("/api/over-capacity", json=payload, headers=bearer(key))
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["details"]["fields"]


def test_check_tells_what_would_break_and_saves_nothing(client, key, container):
    for n in range(4):
        client.post("/api/contracts", json=arrival(name=f"Enfant{'abcd'[n]}"), headers=bearer(key))
    fits = client.post("/api/contracts/check", json=arrival(name="Eve", slots=((1, "08:00", "12:00"),)),
                       headers=bearer(key))
    assert fits.status_code == 200 and fits.get_json() == {"over_capacity": False, "count": 0, "exceedances": []}
    breaks = client.post("/api/contracts/check", json=arrival(name="Eve"), headers=bearer(key)).get_json()
    assert breaks["over_capacity"] is True and breaks["exceedances"][0]["rules"] == ["places"]
    bad = client.post("/api/contracts/check", json=arrival(name=""), headers=bearer(key))
    assert bad.status_code == 400
    contract_id = client.get("/api/contracts", headers=bearer(key)).get_json()["contracts"][0]["id"]
    change = client.post(f"/api/contracts/{contract_id}/changes/check", headers=bearer(key), json={
        "effective_date": TODAY.isoformat(), "schedule": [{"weekday": 0, "start": "07:00", "end": "19:00"}]})
    assert change.status_code == 200 and change.get_json()["over_capacity"] is False
    with container.session_factory() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(contracts)).scalar() == 4
        assert session.execute(sa.select(sa.func.count()).select_from(contract_declarations)).scalar() == 4


def test_no_arrival_on_a_suspended_agrement_nor_after_its_validity(client, key, container):
    from agrement.adapters.orm import agrements
    with container.session_factory() as session, session.begin():
        end = session.execute(sa.select(agrements.c.validity_end)
                              .where(agrements.c.pmi_number == "280001")).scalar()
    after = client.post("/api/contracts", json=arrival(start=end + dt.timedelta(days=1)), headers=bearer(key))
    assert after.status_code == 400 and "start_date" in after.get_json()["error"]["details"]["fields"]
    contract_id = client.post("/api/contracts", json=arrival(), headers=bearer(key)).get_json()["contract_id"]
    with container.session_factory() as session, session.begin():
        session.execute(agrements.update().where(agrements.c.pmi_number == "280001").values(status="suspended"))
    refused = client.post("/api/contracts", json=arrival(name="Eve"), headers=bearer(key))
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "agrement_inactive"
    checked = client.post("/api/contracts/check", json=arrival(name="Eve"), headers=bearer(key))
    assert checked.status_code == 409 and checked.get_json()["error"]["code"] == "agrement_inactive"
    # the departure of a child already there is still declared
    assert client.post(f"/api/contracts/{contract_id}/departure", json={"end_date": TODAY.isoformat()},
                       headers=bearer(key)).status_code == 201


def test_over_capacity_check_computes_the_day_totals_and_saves_nothing_then_her_totals_are_kept(client, key):
    for n in range(3):
        client.post("/api/contracts", json=arrival(name=f"Enfant{'abc'[n]}"), headers=bearer(key))
    monday = MONDAY + dt.timedelta(days=7)
    period = {"reason": "Vacances", "start_date": monday.isoformat(),
              "end_date": (monday + dt.timedelta(days=1)).isoformat()}
    checked = client.post("/api/over-capacity/check", json=period, headers=bearer(key))
    assert checked.status_code == 200
    assert checked.get_json()["day_totals"] == {monday.isoformat(): 3, (monday + dt.timedelta(days=1)).isoformat(): 0}
    assert client.get("/api/over-capacity", headers=bearer(key)).get_json()["declarations"] == []
    told = {monday.isoformat(): 7, (monday + dt.timedelta(days=1)).isoformat(): 6}
    declared = client.post("/api/over-capacity", json={**period, "day_totals": told}, headers=bearer(key))
    assert declared.status_code == 201 and declared.get_json()["day_totals"] == told
    listed = client.get("/api/over-capacity", headers=bearer(key)).get_json()["declarations"]
    assert [d["day_totals"] for d in listed] == [told]
