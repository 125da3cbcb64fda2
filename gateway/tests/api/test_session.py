"""The browser session of the espace pro: the cookie, a new session at login, timeouts, token refresh, CSRF,
logout."""
from __future__ import annotations

import json

import pytest

AGREMENT = {"pmi_number": "280001", "civility": "Mme", "first_name": "Claire", "last_name": "Martin",
            "address_line": "3 rue des Lilas", "postcode": "28000", "commune_name": "Chartres",
            "commune_insee": "28085", "circonscription": "Chartres Nord", "capacity_total": 4, "capacity_under_3": 2,
            "validity_start": "2021-09-01", "validity_end": "2026-08-31", "status": "active", "place_type": "home",
            "mam_name": None}


@pytest.fixture
def agrement(downstream, urls):
    downstream.get(f"{urls['agrement']}/api/agrements/me", json=AGREMENT)


def _set_cookie(response) -> str:
    return next(value for value in response.headers.getlist("Set-Cookie") if value.startswith(("assmat_session=", "__Host-assmat_session=")))


def test_login_sets_an_httponly_samesite_lax_session_cookie(client, log_in, downstream):
    response = log_in()

    assert response.status_code == 303 and response.headers["Location"] == "/espace-pro"
    # The form's former field name (`pmi_number`) still works; identity receives it as `login`.
    assert json.loads(downstream.calls[0].request.body) == {"login": "280001", "password": "un mot de passe long"}
    cookie = _set_cookie(response)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # local and test runs are served over plain http


def test_the_cookie_is_secure_outside_local_runs(make_app, downstream, urls):
    client = make_app("production").test_client()
    assert "Secure" in _set_cookie(client.get("/espace-pro/connexion"))


def test_login_starts_a_new_session(client, log_in, downstream, urls, csrf):
    downstream.post(f"{urls['identity']}/api/activation/check",
                    json={"ticket": "ticket-1", "display_name": "Claire Martin", "expires_in": 900})
    client.post("/espace-pro/activation", data={
        "pmi_number": "280001", "birth_date_day": "12", "birth_date_month": "4", "birth_date_year": "1985",
        "captcha_id": "challenge-0001", "captcha_answer": "ak3fx", "csrf_token": csrf("/espace-pro/activation")})
    with client.session_transaction() as before:
        old_csrf = before["csrf"]
        assert "activation" in before
    old_cookie = client.get_cookie("assmat_session").value

    log_in()

    assert client.get_cookie("assmat_session").value != old_cookie
    with client.session_transaction() as after:
        assert "activation" not in after and after.get("csrf") != old_csrf
        assert after["account"]["display_name"] == "Claire Martin"
        assert after["access_token"] == "access-1"


def test_login_refused_shows_identity_message(client, downstream, urls, csrf):
    downstream.post(f"{urls['identity']}/api/sessions", status=401,
                    json={"error": {"code": "invalid_credentials", "message": "Identifiant ou mot de passe incorrect."}})

    response = client.post("/espace-pro/connexion", data={"pmi_number": "280001", "password": "faux mais long",
                                                          "csrf_token": csrf("/espace-pro/connexion")})

    assert response.status_code == 400
    assert "Identifiant ou mot de passe incorrect." in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "account" not in session


def test_espace_pro_requires_login(client):
    response = client.get("/espace-pro")
    assert response.status_code == 303
    assert response.headers["Location"] == "/espace-pro/connexion?suivant=/espace-pro"


def test_login_goes_back_to_the_page_asked_but_never_to_another_site(client, log_in):
    assert log_in(suivant="/espace-pro?onglet=agrement").headers["Location"] == "/espace-pro?onglet=agrement"
    assert log_in(suivant="https://example.com/").headers["Location"] == "/espace-pro"
    assert log_in(suivant="/espace-pro//example.com").headers["Location"] == "/espace-pro"


def test_espace_pro_greets_the_pro_and_shows_the_agrement(client, log_in, agrement, downstream):
    log_in()

    response = client.get("/espace-pro")

    html = response.get_data(as_text=True)
    assert "Bonjour Claire Martin" in html
    assert "280001" in html and "Chartres Nord" in html
    assert "du 1er septembre 2021 au 31 août 2026" in html
    assert "4 enfants en même temps" in html and "dont 2 enfants de moins de 3 ans" in html
    assert "En cours de validité" in html and "À domicile" in html
    assert downstream.calls[-1].request.headers["Authorization"] == "Bearer access-1"
    assert response.headers["Cache-Control"] == "no-store"


def test_the_session_expires_after_30_idle_minutes(client, log_in, agrement, clock, downstream, urls):
    downstream.post(f"{urls['identity']}/api/sessions/refresh", json={
        "access_token": "access-n", "expires_in": 300, "refresh_token": "refresh-n"})
    log_in()
    clock.advance(29 * 60)
    assert client.get("/espace-pro").status_code == 200  # activity keeps the session alive...
    clock.advance(29 * 60)
    assert client.get("/espace-pro").status_code == 200
    clock.advance(31 * 60)  # ...but not a long pause

    response = client.get("/espace-pro", follow_redirects=True)

    assert response.request.path == "/espace-pro/connexion"
    assert "Votre session a expiré" in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "account" not in session and "access_token" not in session


def test_the_session_ends_12_hours_after_login_however_active(client, log_in, agrement, clock, downstream, urls):
    downstream.post(f"{urls['identity']}/api/sessions/refresh", json={
        "access_token": "access-n", "expires_in": 300, "refresh_token": "refresh-n"})
    log_in()
    for _ in range(35):  # 11 h 40 min, never idle for more than 20 minutes
        clock.advance(20 * 60)
        assert client.get("/espace-pro").status_code == 200
    clock.advance(21 * 60)

    assert client.get("/espace-pro").status_code == 303


def test_an_access_token_about_to_expire_is_refreshed(client, log_in, agrement, clock, downstream, urls):
    downstream.post(f"{urls['identity']}/api/sessions/refresh", json={
        "access_token": "access-2", "expires_in": 300, "refresh_token": "refresh-2",
        "account": {"id": "acc-1", "role": "assmat", "pmi_number": "280001", "display_name": "Claire Martin",
                    "email": "claire.martin@example.fr"}})
    log_in()
    clock.advance(250)  # the 300 s token has less than a minute left

    client.get("/espace-pro")

    refresh, call = downstream.calls[-2], downstream.calls[-1]
    assert json.loads(refresh.request.body) == {"refresh_token": "refresh-1"}
    assert call.request.headers["Authorization"] == "Bearer access-2"
    with client.session_transaction() as session:
        assert session["refresh_token"] == "refresh-2"


def test_a_refused_refresh_ends_the_session(client, log_in, clock, downstream, urls):
    downstream.post(f"{urls['identity']}/api/sessions/refresh", status=401,
                    json={"error": {"code": "session_expired", "message": "Votre session a expiré, reconnectez-vous."}})
    log_in()
    clock.advance(400)

    response = client.get("/espace-pro")

    assert response.status_code == 303 and response.headers["Location"].startswith("/espace-pro/connexion")
    with client.session_transaction() as session:
        assert "account" not in session


def test_a_post_without_csrf_token_is_refused(client, log_in, downstream):
    log_in()
    calls = len(downstream.calls)

    response = client.post("/espace-pro/deconnexion")

    assert response.status_code == 400
    assert "Demande incorrecte" in response.get_data(as_text=True)
    assert len(downstream.calls) == calls
    with client.session_transaction() as session:
        assert "account" in session


def test_a_post_with_a_wrong_csrf_token_is_refused(client, csrf):
    csrf("/espace-pro/connexion")
    response = client.post("/espace-pro/connexion", data={"pmi_number": "280001", "password": "x" * 12,
                                                          "csrf_token": "forged"})
    assert response.status_code == 400


def test_logout_revokes_the_refresh_token_and_clears_the_session(client, log_in, agrement, downstream, urls):
    downstream.post(f"{urls['identity']}/api/sessions/logout", status=204)
    log_in()
    token = client.get("/espace-pro").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]

    response = client.post("/espace-pro/deconnexion", data={"csrf_token": token}, follow_redirects=True)

    logout = next(call for call in downstream.calls if call.request.url.endswith("/api/sessions/logout"))
    assert json.loads(logout.request.body) == {"refresh_token": "refresh-1"}
    assert response.request.path == "/"
    assert "Vous êtes déconnecté·e" in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "account" not in session and "refresh_token" not in session
    assert client.get("/espace-pro").status_code == 303


def test_logout_clears_the_session_even_when_identity_is_down(client, log_in, downstream, csrf):
    log_in()
    response = client.post("/espace-pro/deconnexion", data={"csrf_token": csrf("/espace-pro/connexion")})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    with client.session_transaction() as session:
        assert "account" not in session


def test_a_form_posted_into_an_expired_session_leads_to_the_login(client, log_in, clock, csrf):
    log_in()
    token = csrf("/espace-pro/connexion")
    clock.advance(31 * 60)

    response = client.post("/espace-pro/deconnexion", data={"csrf_token": token})

    assert response.status_code == 303 and response.headers["Location"] == "/espace-pro/connexion"


# --- server-side sessions -----------------------------------------------------------------------------------------

def _store(app):
    return app.extensions["gateway"].sessions.store


def test_the_cookie_holds_only_a_signed_random_id_and_the_store_holds_the_session(app, client, log_in):
    log_in()

    cookie = client.get_cookie("assmat_session").value
    session_id, _, signature = cookie.rpartition(".")
    assert len(session_id) >= 43 and signature  # 32 random bytes, URL-safe base64
    assert "access-1" not in cookie and "refresh-1" not in cookie and "Claire" not in cookie
    # The store knows the session by a hash of its id only: reading the store gives no usable cookie.
    from gateway.browser import _store_key
    import hashlib
    assert _store_key(session_id) == "session:" + hashlib.sha256(session_id.encode()).hexdigest()
    stored = _store(app).get(_store_key(session_id), now=app.extensions["gateway"].clock())
    assert stored is not None and "refresh-1" in stored
    assert _store(app).get(f"session:{session_id}") is None


def test_a_cookie_copied_before_logout_is_dead_right_after(client, log_in, agrement, downstream, urls, csrf):
    downstream.post(f"{urls['identity']}/api/sessions/logout", status=204)
    log_in()
    assert client.get("/espace-pro").status_code == 200
    copied = client.get_cookie("assmat_session").value

    client.post("/espace-pro/deconnexion", data={"csrf_token": csrf("/espace-pro")})
    client.set_cookie("assmat_session", copied)  # the thief's browser, replaying the cookie at once

    response = client.get("/espace-pro")
    assert response.status_code == 303 and response.headers["Location"].startswith("/espace-pro/connexion")
    assert "Bonjour" not in client.get("/espace-pro", follow_redirects=True).get_data(as_text=True)
    assert any(call.request.url.endswith("/api/sessions/logout") for call in downstream.calls)


def test_login_deletes_the_session_the_browser_had(app, client, log_in, csrf):
    csrf("/espace-pro/connexion")
    before = client.get_cookie("assmat_session").value
    log_in()
    client.set_cookie("assmat_session", before)  # a planted id (fixation) leads nowhere after the login
    assert client.get("/espace-pro").status_code == 303


def test_a_forged_or_unsigned_cookie_is_a_new_empty_session(client, log_in):
    log_in()
    session_id = client.get_cookie("assmat_session").value.rpartition(".")[0]
    for forged in (session_id, session_id + ".AAAA", "x" * 300, "é"):
        client.set_cookie("assmat_session", forged)
        response = client.get("/espace-pro")
        assert response.status_code == 303, forged


def test_flash_messages_survive_in_the_server_side_session(client, log_in, downstream, urls, csrf):
    downstream.post(f"{urls['identity']}/api/sessions/logout", status=204)
    log_in()
    response = client.post("/espace-pro/deconnexion", data={"csrf_token": csrf("/espace-pro/connexion")},
                           follow_redirects=True)
    assert "Vous êtes déconnecté·e" in response.get_data(as_text=True)
    assert "Vous êtes déconnecté·e" not in client.get("/").get_data(as_text=True)  # shown once


def test_outside_local_runs_the_cookie_is_host_prefixed_and_secure_and_hsts_is_sent(make_app):
    client = make_app("production").test_client()
    response = client.get("/espace-pro/connexion", base_url="https://portail.example.fr")
    cookie = _set_cookie(response)
    assert cookie.startswith("__Host-assmat_session=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Domain" not in cookie
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_local_runs_keep_a_plain_cookie_name_and_send_no_hsts(client):
    response = client.get("/espace-pro/connexion")
    assert _set_cookie(response).startswith("assmat_session=")
    assert "Strict-Transport-Security" not in response.headers


class BrokenStore:
    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise ConnectionError("store down")
        return fail


def test_a_store_outage_answers_a_french_503_not_a_500(app, client, log_in):
    log_in()
    app.extensions["gateway"].sessions.store = BrokenStore()

    for path in ("/espace-pro", "/espace-pro/connexion", "/"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert "Réessayez dans quelques minutes" in response.get_data(as_text=True)


def test_a_store_outage_on_the_first_write_answers_503_too(app, client):
    app.extensions["gateway"].sessions.store = BrokenStore()
    response = client.get("/espace-pro/connexion")  # the form's CSRF token must be kept: it cannot
    assert response.status_code == 503
    assert "session ne peut pas être lue" in response.get_data(as_text=True)
    assert not response.headers.getlist("Set-Cookie")


def test_a_visitor_without_a_session_is_not_affected_by_a_store_outage(app, client, downstream, urls):
    app.extensions["gateway"].sessions.store = BrokenStore()
    assert client.get("/").status_code == 200


def test_a_request_in_flight_at_logout_cannot_bring_the_session_back(app, client, log_in, downstream, urls, csrf,
                                                                      clock):
    """The thief's request read the session just before the owner's logout deleted it; its write comes after."""
    downstream.post(f"{urls['identity']}/api/sessions/logout", status=204)
    log_in()
    copied = client.get_cookie("assmat_session").value
    interface = app.extensions["gateway"].sessions
    with app.test_request_context("/espace-pro", headers={"Cookie": f"assmat_session={copied}"}):
        from flask import request
        in_flight = interface.open_session(app, request)
    assert in_flight.get("account")

    client.post("/espace-pro/deconnexion", data={"csrf_token": csrf("/espace-pro/connexion")})
    in_flight["csrf"] = "changed by the in-flight request"
    with app.test_request_context("/espace-pro"):
        response = app.response_class()
        interface.save_session(app, in_flight, response)
    assert "assmat_session=;" in response.headers.get("Set-Cookie", "")  # told to forget it

    client.set_cookie("assmat_session", copied)
    assert client.get("/espace-pro").status_code == 303


def test_an_unreadable_session_record_is_a_new_session_not_a_500(app, client, log_in):
    from gateway.browser import _store_key
    log_in()
    session_id = client.get_cookie("assmat_session").value.rpartition(".")[0]
    _store(app).put(_store_key(session_id), "{not json", 600, now=app.extensions["gateway"].clock())
    assert client.get("/espace-pro").status_code == 303
    assert _store(app).get(_store_key(session_id), now=app.extensions["gateway"].clock()) is None


def test_anonymous_visitors_of_public_pages_get_no_cookie_and_no_store_entry(app, client, downstream, urls):
    downstream.get(f"{urls['fiche']}/api/fiches", json={"fiches": [], "total": 0, "page": 1, "per_page": 20})
    for path in ("/", "/recherche", "/recherche?q=Chartres"):
        response = client.get(path)
        assert response.status_code == 200 and not response.headers.getlist("Set-Cookie"), path
    assert _store(app).purge(now=10**12) == 0  # nothing was ever written
