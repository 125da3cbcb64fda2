"""The Contrats and Vos propres enfants tabs: forms post what agrement-svc expects, its refusals and its capacity
warning are shown next to the fields with what was typed kept, and only an assmat reaches them."""
from __future__ import annotations

import json
from html import unescape

import pytest
import responses

from gateway.tests.conftest import LOGIN_ANSWER, calls_to

CONTRACT = {"id": "c1", "child_first_name": "Léa", "child_birth_date": "2021-05-01", "start_date": "2026-03-02",
            "end_date": None, "schedule": [{"weekday": 0, "start": "08:00", "end": "18:00"}],
            "representatives": [{"name": "Paul Martin", "phone": "0612345678", "email": None}], "late": True,
            "over_capacity": False, "declared_at": "2026-03-20T10:00:00+00:00", "arrival_deadline": "2026-03-10",
            "declarations": [{"id": "d1", "contract_id": "c1", "kind": "arrival", "effective_date": "2026-03-02",
                              "declared_at": "2026-03-20T10:00:00+00:00", "deadline": "2026-03-10", "late": True,
                              "over_capacity": False, "exceedances": []}]}
ARRIVAL_FORM = {"child_first_name": "Léa", "child_birth_date": "2021-05-01", "start_date": "2026-03-02",
                "start_0": "08:00", "end_0": "18:00", "rep1_name": "Paul Martin", "rep1_phone": "0612345678"}


@pytest.fixture
def logged_in(log_in):
    assert log_in().status_code == 303


def post(client, csrf, path, data):
    return client.post(path, data={**data, "csrf_token": csrf(path if "/contrats/c1/" not in path
                                                              else "/espace-pro/contrats/c1")})


def test_the_contracts_tab_lists_contracts_with_late_flags(client, downstream, urls, logged_in):
    downstream.get(f"{urls['agrement']}/api/contracts", json={"contracts": [CONTRACT]})
    downstream.get(f"{urls['agrement']}/api/over-capacity", json={"declarations": []})
    page = client.get("/espace-pro/contrats")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Léa" in html and "Déclaré hors délai" in html and "dans les 8 jours" in html
    assert 'aria-current="page"' in html and "Vos propres enfants" in html   # the shared tab bar
    assert calls_to(downstream, "/api/contracts")[0].request.headers["Authorization"] == "Bearer access-1"


def test_an_arrival_is_posted_as_the_api_expects(client, downstream, urls, logged_in, csrf):
    downstream.post(f"{urls['agrement']}/api/contracts", status=201,
                    json={"contract_id": "c1", "declaration_id": "d1", "late": False, "deadline": "2026-03-10",
                          "over_capacity": False, "exceedances": []})
    response = post(client, csrf, "/espace-pro/contrats/nouveau", ARRIVAL_FORM)
    assert response.status_code == 303 and response.headers["Location"].endswith("/espace-pro/contrats/c1")
    sent = json.loads(calls_to(downstream, "/api/contracts")[0].request.body)
    assert sent == {"child_first_name": "Léa", "child_birth_date": "2021-05-01", "start_date": "2026-03-02",
                    "schedule": [{"weekday": 0, "start": "08:00", "end": "18:00"}],
                    "representatives": [{"name": "Paul Martin", "phone": "0612345678", "email": ""}],
                    "confirm_over_capacity": False}


@pytest.mark.parametrize("change,message", [
    ({"end_0": "07:00"}, "l'heure de départ doit suivre l'heure d'arrivée"),
    ({"start_0": "", "end_0": ""}, "au moins un jour d'accueil"),
    ({"child_birth_date": "01/05/2021"}, "doit être une date"),
    ({"rep1_name": "", "rep1_phone": ""}, "au moins un représentant légal"),
])
def test_malformed_arrivals_never_reach_the_service_and_keep_what_was_typed(client, downstream, logged_in, csrf,
                                                                            change, message):
    response = post(client, csrf, "/espace-pro/contrats/nouveau", {**ARRIVAL_FORM, **change})
    html = unescape(response.get_data(as_text=True))
    assert response.status_code == 400 and message in html
    assert 'value="Léa"' in html
    assert calls_to(downstream, "/api/contracts") == []


def test_the_service_refusal_is_shown_beside_its_field(client, downstream, urls, logged_in, csrf):
    downstream.post(f"{urls['agrement']}/api/contracts", status=400, json={"error": {
        "code": "invalid_fields", "message": "Certains champs sont à corriger.",
        "details": {"fields": {"child_birth_date": "La date de naissance ne peut pas être dans le futur."}}}})
    response = post(client, csrf, "/espace-pro/contrats/nouveau", ARRIVAL_FORM)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="child_birth_date-error"' in html and "ne peut pas être dans le futur" in html


def test_over_capacity_is_warned_then_confirmed(client, downstream, urls, logged_in, csrf):
    warning = {"error": {"code": "over_capacity", "message": "Cette déclaration dépasse la capacité d'accueil."}}
    downstream.post(f"{urls['agrement']}/api/contracts", status=409, json=warning)
    downstream.post(f"{urls['agrement']}/api/contracts/check", json={
        "over_capacity": True, "count": 1, "exceedances": [{
            "label": "lundi 02/03/2026 de 16h00 à 18h00", "rules": ["places"],
            "messages": ["5 enfants accueillis pour 4 places d'agrément"]}]})
    response = post(client, csrf, "/espace-pro/contrats/nouveau", ARRIVAL_FORM)
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "lundi 02/03/2026 de 16h00 à 18h00" in html and "5 enfants accueillis pour 4 places" in html
    assert 'name="confirm_over_capacity"' in html
    checked = json.loads(calls_to(downstream, "/api/contracts/check")[0].request.body)
    assert "confirm_over_capacity" not in checked and checked["child_first_name"] == "Léa"
    downstream.upsert(responses.POST, f"{urls['agrement']}/api/contracts", status=201, json={
        "contract_id": "c1", "declaration_id": "d1", "late": False, "deadline": "2026-03-10",
        "over_capacity": True, "exceedances": []})
    confirmed = post(client, csrf, "/espace-pro/contrats/nouveau", {**ARRIVAL_FORM, "confirm_over_capacity": "oui"})
    assert confirmed.status_code == 303
    assert json.loads(calls_to(downstream, "/api/contracts")[-1].request.body)["confirm_over_capacity"] is True


def test_departure_before_arrival_is_shown_on_the_contract_page(client, downstream, urls, logged_in, csrf):
    downstream.get(f"{urls['agrement']}/api/contracts/c1", json=CONTRACT)
    downstream.post(f"{urls['agrement']}/api/contracts/c1/departure", status=400, json={"error": {
        "code": "invalid_fields", "message": "Certains champs sont à corriger.",
        "details": {"fields": {"end_date": "Le départ ne peut précéder l'arrivée (02/03/2026)."}}}})
    response = post(client, csrf, "/espace-pro/contrats/c1/depart", {"end_date": "2026-03-01"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "Le départ ne peut précéder l&#39;arrivée" in html


def test_own_children_are_listed_added_and_refused_field_by_field(client, downstream, urls, logged_in, csrf):
    downstream.get(f"{urls['agrement']}/api/own-children", json={"children": [
        {"id": "k1", "first_name": "Tom", "birth_date": "2025-01-01", "age": 1, "counted_in": "under_3"}]})
    page = client.get("/espace-pro/enfants").get_data(as_text=True)
    assert "Tom" in page and "compte parmi les moins de 3 ans" in page and "ne prennent aucune place" in page
    downstream.post(f"{urls['agrement']}/api/own-children", status=400, json={"error": {
        "code": "invalid_fields", "message": "Certains champs sont à corriger.",
        "details": {"fields": {"birth_date": "La date de naissance ne peut pas être dans le futur."}}}})
    refused = post(client, csrf, "/espace-pro/enfants", {"first_name": "Zoé", "birth_date": "2099-01-01"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "ne peut pas être dans le futur" in html and 'value="Zoé"' in html


def test_only_an_assmat_reaches_the_tabs(client, log_in):
    mam = {**LOGIN_ANSWER, "account": {**LOGIN_ANSWER["account"], "role": "mam", "pmi_number": None}}
    log_in(mam, pmi_number="mam@example.org")
    assert client.get("/espace-pro/contrats").status_code == 403
    assert client.get("/espace-pro/enfants").status_code == 403


def test_without_a_session_the_tabs_ask_for_a_login(client):
    response = client.get("/espace-pro/contrats")
    assert response.status_code in (302, 303) and "/espace-pro/connexion" in response.headers["Location"]


def test_the_week_shows_the_engine_counts_and_breaches(client, downstream, urls, logged_in):
    downstream.get(f"{urls['agrement']}/api/capacity/week", json={
        "from": "2026-03-02", "places": 4, "places_under_3": 3, "days": [
            {"date": "2026-03-02", "weekday": "lundi", "exceptional": False, "intervals": [
                {"start": "08h00", "end": "18h00", "cared": 5, "cared_under_3": 1, "minors_under_11": 6,
                 "under_3": 2, "breaches": ["5 enfants accueillis pour 4 places d'agrément"]}]}]})
    html = unescape(client.get("/espace-pro/contrats/semaine?du=2026-03-02").get_data(as_text=True))
    assert "Lundi 2 mars 2026" in html and "5 enfants accueillis pour 4 places d'agrément" in html
    assert calls_to(downstream, "/api/capacity/week")[0].request.url.endswith("from=2026-03-02")
    assert "du=2026-02-23" in html and "du=2026-03-09" in html   # previous and next weeks


def test_an_over_capacity_period_is_declared_in_two_steps_with_her_day_totals(client, downstream, urls, logged_in,
                                                                             csrf):
    period = {"reason": "Vacances scolaires", "start_date": "2026-07-01", "end_date": "2026-07-02"}
    downstream.post(f"{urls['agrement']}/api/over-capacity/check", json={
        "id": None, "late": False, "day_totals": {"2026-07-01": 5, "2026-07-02": 4}, "days_used": {"2026": 2}})
    step = post(client, csrf, "/espace-pro/contrats/surnombre", period)
    html = step.get_data(as_text=True)
    assert step.status_code == 200 and 'name="total_2026-07-01"' in html and 'value="5"' in html
    assert calls_to(downstream, "/api/over-capacity") == []      # nothing told yet
    downstream.post(f"{urls['agrement']}/api/over-capacity", status=201,
                    json={"id": "o1", "late": True, "day_totals": {"2026-07-01": 7, "2026-07-02": 4}})
    done = post(client, csrf, "/espace-pro/contrats/surnombre",
                {**period, "step": "totals", "total_2026-07-01": "7", "total_2026-07-02": "4"})
    assert done.status_code == 303
    assert json.loads(calls_to(downstream, "/api/over-capacity")[0].request.body) == {
        **period, "day_totals": {"2026-07-01": 7, "2026-07-02": 4}}
    bad = post(client, csrf, "/espace-pro/contrats/surnombre",
               {**period, "step": "totals", "total_2026-07-01": "sept", "total_2026-07-02": "4"})
    assert bad.status_code == 400 and "Chaque total doit être un nombre" in bad.get_data(as_text=True)
    assert 'value="sept"' in bad.get_data(as_text=True)
    missing = post(client, csrf, "/espace-pro/contrats/surnombre", {"reason": "", "start_date": "",
                                                                     "end_date": "2026-07-01"})
    assert missing.status_code == 400 and "Indiquez le motif" in missing.get_data(as_text=True)


def test_a_change_of_contacts_is_declared_and_its_refusal_shown(client, downstream, urls, logged_in, csrf):
    downstream.get(f"{urls['agrement']}/api/contracts/c1", json=CONTRACT)
    page = client.get("/espace-pro/contrats/c1").get_data(as_text=True)
    assert 'value="Paul Martin"' in page    # the current contacts, to edit
    downstream.post(f"{urls['agrement']}/api/contracts/c1/changes", status=201, json={
        "contract_id": "c1", "declaration_id": "d2", "late": False, "deadline": "2026-03-30",
        "over_capacity": False, "exceedances": []})
    response = post(client, csrf, "/espace-pro/contrats/c1/representants",
                    {"contacts_date": "2026-03-22", "rep1_name": "Paul Martin", "rep1_email": "paul@example.org"})
    assert response.status_code == 303
    assert json.loads(calls_to(downstream, "/api/contracts/c1/changes")[0].request.body) == {
        "effective_date": "2026-03-22",
        "representatives": [{"name": "Paul Martin", "phone": "", "email": "paul@example.org"}]}
    downstream.upsert(responses.POST, f"{urls['agrement']}/api/contracts/c1/changes", status=400, json={"error": {
        "code": "invalid_fields", "message": "Certains champs sont à corriger.",
        "details": {"fields": {"effective_date": "Le changement ne peut précéder l'arrivée de l'enfant."}}}})
    refused = post(client, csrf, "/espace-pro/contrats/c1/representants",
                   {"contacts_date": "2020-01-01", "rep1_name": "Paul Martin", "rep1_phone": "0612345678"})
    html = unescape(refused.get_data(as_text=True))
    assert refused.status_code == 400 and 'id="contacts_date-error"' in html
    assert "ne peut précéder l'arrivée" in html
