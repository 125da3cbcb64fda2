"""Navigation: the espace pro's tab bar leads to the geolocation page, and the staff home links to each page of the
espace PMI only for the roles that page lets in (identity faked; every hidden link's page is checked to refuse)."""
import pytest
import responses

URLS = {"identity": "http://identity.test", "agrement": "http://agrement.test"}  # as in conftest.URLS

BACKOFFICE = {"/espace-pmi/signalements": "Signalements", "/espace-pmi/declarations": "Déclarations signalées",
              "/espace-pmi/agrements": "Agréments", "/espace-pmi/oppositions": "Oppositions à la publication",
              "/espace-pmi/listes-mairies": "Listes pour les mairies"}
GEOLOCATION = {"/espace-pmi/geolocalisation": "Géolocalisation"}
SECURITY = {"/espace-pmi/securite": "Sécurité"}
EVERY_LINK = {**BACKOFFICE, **GEOLOCATION, **SECURITY}


def staff_answer(role: str, roles: list[str]) -> dict:
    return {"access_token": "staff-access", "expires_in": 900, "refresh_token": "staff-refresh",
            "account": {"id": "s-1", "role": role, "roles": roles, "pmi_number": None, "display_name": "Camille",
                        "email": "staff@cd28.fr"}}


def staff_home(client, downstream, csrf, role: str, roles: list[str]) -> str:
    downstream.upsert(responses.POST, f"{URLS['identity']}/api/staff/sessions", json=staff_answer(role, roles))
    downstream.upsert(responses.GET, f"{URLS['identity']}/api/staff/me", json={
        "id": "s-1", "display_name": "Camille", "email": "staff@cd28.fr", "role": role, "roles": roles,
        "circonscriptions": ["Chartres"], "account_type": "staff"})
    response = client.post("/espace-pmi/connexion", data={"email": "staff@cd28.fr", "password": "phrase de passe",
                                                          "totp": "123456", "csrf_token": csrf("/espace-pmi/connexion")})
    assert response.status_code == 303
    home = client.get("/espace-pmi")
    assert home.status_code == 200
    return home.get_data(as_text=True)


@pytest.mark.parametrize(("role", "roles", "expected"), [
    ("pmi_agent", ["pmi_agent"], BACKOFFICE),
    ("pmi_central", ["pmi_central"], {**BACKOFFICE, **SECURITY}),
    ("support", ["support"], {**GEOLOCATION, **SECURITY}),
    ("admin", ["admin"], {**GEOLOCATION, **SECURITY}),
    ("pmi_agent", ["pmi_agent", "support"], EVERY_LINK),
])
def test_the_staff_home_links_each_page_only_for_the_roles_it_lets_in(client, downstream, csrf, role, roles,
                                                                       expected):
    html = staff_home(client, downstream, csrf, role, roles)
    for path, label in EVERY_LINK.items():
        link = f'<a href="{path}">{label}</a>'
        if path in expected:
            assert link in html, f"{roles} should see {path}"
        else:
            assert f'href="{path}"' not in html, f"{roles} should not see {path}"
            # ...because the page itself turns these roles away (before calling any service).
            refused = client.get(path)
            assert refused.status_code == 403 or refused.headers.get("Location") == "/espace-pmi/connexion", path


def test_the_espace_pro_tab_bar_leads_to_the_geolocation_page(client, log_in, downstream):
    downstream.add(responses.GET, f"{URLS['agrement']}/api/agrements/me", json={
        "pmi_number": "280001", "civility": "Mme", "first_name": "Marie", "last_name": "DUPONT", "birth_name": None,
        "email": None, "phone": None, "address_line": "8 rue Noël Ballay", "address_complement": None,
        "postcode": "28000", "commune_insee": "28085", "commune_name": "Chartres", "circonscription": "Chartres",
        "capacity_total": 4, "capacity_under_3": 2, "capacity_note": None, "validity_start": "2021-09-01",
        "validity_end": "2026-08-31", "status": "active", "publication_opposed": False, "place_type": "home",
        "mam_id": None, "mam_name": None})
    downstream.add(responses.GET, f"{URLS['agrement']}/api/agrements/me/history", json={"history": []})
    log_in()
    html = client.get("/espace-pro/agrement").get_data(as_text=True)
    tabs = html.split('aria-label="Rubriques de l\'espace pro"')[1].split("</nav>")[0]
    assert '<a href="/espace-pro/geolocalisation">Géolocalisation</a>' in tabs
