"""The Agrément tab, "Signaler un changement de situation" and the PMI back office, with agrement-svc faked: what
is sent to it, what is shown, and how its refusals land beside their fields."""
import base64
import io
import json
import re

import responses

URLS = {"identity": "http://identity.test", "agrement": "http://agrement.test"}  # as in conftest.URLS


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


AGREMENT = URLS["agrement"]
ME = {"pmi_number": "280001", "civility": "Mme", "first_name": "Marie", "last_name": "DUPONT", "birth_name": None,
      "email": None, "phone": None, "address_line": "8 rue Noël Ballay", "address_complement": None,
      "postcode": "28000", "commune_insee": "28085", "commune_name": "Chartres", "circonscription": "Chartres",
      "capacity_total": 4, "capacity_under_3": 2, "capacity_note": None, "validity_start": "2021-09-01",
      "validity_end": "2026-08-31", "status": "active", "publication_opposed": False, "place_type": "home",
      "mam_id": None, "mam_name": None}
HISTORY = {"history": [
    {"at": "2025-03-02T10:00:00+00:00", "action": "suspend", "label": "Suspension",
     "changes": {"status": ["active", "suspended"]}, "reason": "Enquête en cours"},
    {"at": "2024-06-01T10:00:00+00:00", "action": "extract", "label": "Mise à jour par la PMI",
     "changes": {"phone": [None, "02 37 00 00 01"], "publication_opposed": [False, True]}, "reason": None},
    {"at": "2024-01-01T10:00:00+00:00", "action": "registered", "label": "Agrément reçu par le portail (extraction de la PMI)",
     "changes": {}, "reason": None}]}
STAFF_ANSWER = {"access_token": "staff-access", "expires_in": 900, "refresh_token": "staff-refresh",
                "account": {"id": "s-1", "role": "pmi_agent", "pmi_number": None, "display_name": "Agnès Agent",
                            "email": "agent@cd28.fr"}}
REPORT = {"id": "r1", "pmi_number": "280001", "circonscription": "Chartres", "kind": "moving",
          "kind_label": "Déménagement", "details": {"moving_date": "2027-09-15", "new_address_line": "3 rue des Lilas",
                                                    "new_postcode": "28000", "new_commune": "Chartres"},
          "text": "", "status": "received", "status_label": "Reçu", "staff_message": None,
          "created_at": "2027-08-01T10:00:00+00:00", "updated_at": "2027-08-01T10:00:00+00:00",
          "attachments": [], "first_name": "Marie", "last_name": "DUPONT"}


def test_the_agrement_tab_shows_the_agrement_and_its_history_with_the_tab_bar(client, log_in, downstream):
    downstream.add(responses.GET, f"{AGREMENT}/api/agrements/me", json=ME)
    downstream.add(responses.GET, f"{AGREMENT}/api/agrements/me/history", json=HISTORY)
    log_in()
    html = client.get("/espace-pro/agrement").get_data(as_text=True)
    assert "Mme Marie DUPONT" in html and "1er septembre 2021" in html and "dont 2 enfants de moins de 3 ans" in html
    assert "Historique de l'agrément" in html and "Suspension" in html and "Motif : Enquête en cours" in html
    assert "En cours de validité → Agrément suspendu" in html
    assert "Téléphone :" in html and "— → 02 37 00 00 01" in html and "non → oui" in html
    assert 'aria-label="Rubriques de l\'espace pro"' in html or "Rubriques de l&#39;espace pro" in html
    assert 'href="/espace-pro/agrement" aria-current="page"' in html
    assert 'href="/espace-pro/signalements"' in html
    # The token forwarded is the assmat's.
    assert downstream.calls[-1].request.headers["Authorization"] == "Bearer access-1"


def _report_form(csrf, **fields):
    return {"csrf_token": csrf("/espace-pro/signalements"), "kind": "moving", "moving_date_day": "15",
            "moving_date_month": "9", "moving_date_year": "2027", "new_address_line": "3 rue des Lilas",
            "new_postcode": "28000", "new_commune": "Chartres", "text": "", **fields}


def test_a_report_with_its_attachment_is_sent_as_json_and_the_assmat_sees_it_sent(client, log_in, downstream, csrf):
    downstream.add(responses.GET, f"{AGREMENT}/api/reports/mine", json={"reports": [REPORT]})
    downstream.add(responses.POST, f"{AGREMENT}/api/reports", json=REPORT, status=201)
    log_in()
    pdf = b"%PDF-1.4 test"
    data = _report_form(csrf, attachments=(io.BytesIO(pdf), "bail.pdf"))
    response = client.post("/espace-pro/signalements", data=data, content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)
    [call] = [c for c in downstream.calls if c.request.method == "POST" and c.request.url.endswith("/api/reports")]
    sent = json.loads(call.request.body)
    assert sent["moving_date"] == "2027-09-15" and sent["new_postcode"] == "28000"
    assert sent["attachments"] == [{"file_name": "bail.pdf", "content": base64.b64encode(pdf).decode()}]
    # An attachment larger than the site's other forms allow (256 KB) still reaches agrement-svc, which caps it.
    big = b"%PDF-1.4" + b"0" * 400_000
    data = _report_form(csrf, attachments=(io.BytesIO(big), "scan.pdf"))
    assert client.post("/espace-pro/signalements", data=data, content_type="multipart/form-data").status_code == 303
    html = client.get("/espace-pro/signalements").get_data(as_text=True)
    assert "Votre signalement est envoyé" in html and "Déménagement" in html and "Reçu" in html


def test_the_services_refusal_lands_beside_its_field_and_typed_values_stay(client, log_in, downstream, csrf):
    downstream.add(responses.GET, f"{AGREMENT}/api/reports/mine", json={"reports": []})
    message = "Un déménagement se signale au moins 15 jours avant l'emménagement (article R421-41 du CASF)."
    downstream.add(responses.POST, f"{AGREMENT}/api/reports", status=400, json={"error": {
        "code": "invalid_report", "message": message, "details": {"fields": {"moving_date": message}}}})
    log_in()
    response = client.post("/espace-pro/signalements", data=_report_form(csrf))
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and 'id="moving_date-error"' in html and "R421-41" in html
    assert 'value="3 rue des Lilas"' in html


def test_plainly_malformed_reports_are_refused_before_any_call(client, log_in, downstream, csrf):
    downstream.add(responses.GET, f"{AGREMENT}/api/reports/mine", json={"reports": []})
    log_in()
    response = client.post("/espace-pro/signalements", data=_report_form(csrf, kind="", moving_date_day="40"))
    assert response.status_code == 400 and "Choisissez le type de changement" in response.get_data(as_text=True)
    response = client.post("/espace-pro/signalements", data=_report_form(csrf, moving_date_day="40"))
    assert response.status_code == 400 and "date réelle" in response.get_data(as_text=True)
    assert not [c for c in downstream.calls if c.request.method == "POST" and "/api/reports" in c.request.url]


def _staff_login(client, downstream, csrf):
    downstream.add(responses.POST, f"{URLS['identity']}/api/staff/sessions", json=STAFF_ANSWER)
    client.post("/espace-pmi/connexion", data={"email": "agent@cd28.fr", "password": "phrase de passe",
                                                "totp": "123456", "csrf_token": csrf("/espace-pmi/connexion")})


def test_the_back_office_lists_reports_and_moves_one_on(client, downstream, csrf):
    _staff_login(client, downstream, csrf)
    downstream.add(responses.GET, f"{AGREMENT}/api/backoffice/reports", json={"reports": [REPORT]})
    downstream.add(responses.GET, f"{AGREMENT}/api/backoffice/reports/r1", json=REPORT)
    downstream.add(responses.POST, f"{AGREMENT}/api/backoffice/reports/r1/status",
                   json={**REPORT, "status": "refused"})
    html = client.get("/espace-pmi/signalements").get_data(as_text=True)
    assert "Marie DUPONT (280001)" in html and 'href="/espace-pmi/signalements/r1"' in html
    page = client.get("/espace-pmi/signalements/r1").get_data(as_text=True)
    assert "3 rue des Lilas" in page and "15 septembre 2027" in page
    refused = client.post("/espace-pmi/signalements/r1", data={"status": "refused", "message": "",
                                                               "csrf_token": csrf_of(page)})
    assert refused.status_code == 400 and "qui en explique la raison" in refused.get_data(as_text=True)
    done = client.post("/espace-pmi/signalements/r1", data={"status": "refused", "message": "Pièce manquante",
                                                            "csrf_token": csrf_of(page)})
    assert done.status_code == 303
    [call] = [c for c in downstream.calls if c.request.url.endswith("/r1/status")]
    assert json.loads(call.request.body) == {"status": "refused", "message": "Pièce manquante"}
    assert call.request.headers["Authorization"] == "Bearer staff-access"


def test_a_report_of_another_circonscription_is_not_found(client, downstream, csrf):
    _staff_login(client, downstream, csrf)
    downstream.add(responses.GET, f"{AGREMENT}/api/backoffice/reports/r9", status=404,
                   json={"error": {"code": "not_found", "message": "Signalement introuvable."}})
    assert client.get("/espace-pmi/signalements/r9").status_code == 404


def test_the_back_office_is_closed_to_assmats_and_visitors(client, log_in):
    assert client.get("/espace-pmi/signalements").headers["Location"] == "/espace-pmi/connexion"
    log_in()
    assert client.get("/espace-pmi/agrements/280001").headers["Location"] == "/espace-pmi/connexion"


def test_a_decision_is_sent_and_its_refusal_shown_beside_the_field(client, downstream, csrf):
    _staff_login(client, downstream, csrf)
    downstream.add(responses.GET, f"{AGREMENT}/api/backoffice/agrements/280001", json={**ME, **HISTORY})
    message = "Le nombre de places est un entier de 1 à 4 (article L421-4 du CASF)."
    downstream.add(responses.POST, f"{AGREMENT}/api/backoffice/agrements/280001/decisions", status=400, json={
        "error": {"code": "invalid_decision", "message": message, "details": {"fields": {"capacity_total": message}}}})
    page = client.get("/espace-pmi/agrements/280001").get_data(as_text=True)
    assert "Enquête en cours" in page and "Enregistrer une décision" in page
    response = client.post("/espace-pmi/agrements/280001", data={
        "action": "modify", "capacity_total": "5", "validity_end": "31/08/2030", "csrf_token": csrf_of(page)})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and 'id="capacity_total-error"' in html and "L421-4" in html
    [call] = [c for c in downstream.calls if c.request.url.endswith("/decisions")]
    assert json.loads(call.request.body) == {"action": "modify", "capacity_total": "5", "validity_end": "2030-08-31"}
    assert client.get("/espace-pmi/agrements?numero=28 00 01").headers["Location"] == "/espace-pmi/agrements/280001"


def test_the_mairie_lists_page_offers_both_formats_and_passes_the_file_through(client, downstream, csrf):
    _staff_login(client, downstream, csrf)
    assert client.get("/espace-pmi/listes-mairies?commune=28<>").status_code == 400
    page = client.get("/espace-pmi/listes-mairies?commune=28085").get_data(as_text=True)
    assert 'href="/espace-pmi/listes-mairies/28085.pdf"' in page and 'href="/espace-pmi/listes-mairies/28085.csv"' in page
    downstream.add(responses.GET, f"{AGREMENT}/api/backoffice/mairie-lists/28085.pdf", body=b"%PDF-1.4 list",
                   content_type="application/pdf",
                   headers={"Content-Disposition": 'attachment; filename="liste-assmats-28085.pdf"'})
    response = client.get("/espace-pmi/listes-mairies/28085.pdf")
    assert (response.status_code, response.content_type, response.data) == (200, "application/pdf", b"%PDF-1.4 list")
    assert "liste-assmats-28085.pdf" in response.headers["Content-Disposition"]
    assert downstream.calls[-1].request.headers["Authorization"] == "Bearer staff-access"


def test_oppositions_are_listed_and_a_publication_choice_is_sent(client, downstream, csrf):
    _staff_login(client, downstream, csrf)
    downstream.add(responses.GET, f"{AGREMENT}/api/backoffice/oppositions", json={"agrements": [
        {"pmi_number": "811056", "first_name": "Nathalie", "last_name": "FAUCHER", "circonscription": "Dreux",
         "choice": "no_contact"}]})
    html = client.get("/espace-pmi/oppositions").get_data(as_text=True)
    assert "Nathalie FAUCHER (811056)" in html and "Publiée sans aucune coordonnée" in html
    downstream.add(responses.GET, f"{AGREMENT}/api/backoffice/agrements/280001",
                   json={**ME, **HISTORY, "publication_contact_hidden": False})
    downstream.add(responses.POST, f"{AGREMENT}/api/backoffice/agrements/280001/decisions", json={})
    page = client.get("/espace-pmi/agrements/280001").get_data(as_text=True)
    assert "Publiée avec ses coordonnées" in page
    done = client.post("/espace-pmi/agrements/280001", data={"action": "publication", "publication": "opposed",
                                                             "csrf_token": csrf_of(page)})
    assert done.status_code == 303
    [call] = [c for c in downstream.calls if c.request.url.endswith("/decisions")]
    assert json.loads(call.request.body) == {"action": "publication", "publication": "opposed"}


def test_flagged_declarations_are_listed_with_a_link_to_the_agrement(client, downstream, csrf):
    _staff_login(client, downstream, csrf)
    downstream.add(responses.GET, f"{AGREMENT}/api/backoffice/declarations", json={"declarations": [
        {"kind": "late", "kind_label": "Déclaration tardive (plus de 8 jours, R421-39)", "pmi_number": "280001",
         "first_name": "Marie", "last_name": "DUPONT", "circonscription": "Chartres", "at": "2027-01-10",
         "summary": "Arrivée déclarée 12 jours après"}]})
    html = client.get("/espace-pmi/declarations").get_data(as_text=True)
    assert 'href="/espace-pmi/agrements/280001"' in html and "10 janvier 2027" in html and "R421-39" in html
