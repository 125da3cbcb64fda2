"""Activation through the HTTP API: step 1 (check), step 2 (complete), the link (confirm) and resending it."""
import hashlib

import pytest
import sqlalchemy as sa

from identity.adapters.orm import accounts, email_confirmations
from services.auth import issue_token
from identity.tests.conftest import solved_captcha
from services.catalogue import agrement as agrement_events

REFUSED = {"error": {"code": "activation_refused", "message": (
    "Ces informations ne permettent pas d'activer un compte. Vérifiez le numéro et la date de naissance, ou "
    "contactez votre circonscription de PMI.")}}


def check(client, pmi_number="123456", birth_date="1980-05-17", captcha=True):
    return client.post("/api/activation/check", json={"pmi_number": pmi_number, "birth_date": birth_date,
                                                      **(solved_captcha(client) if captcha else {})})


def complete(client, ticket, email="marie.dupont@orange.fr", password="correct horse battery"):
    return client.post("/api/activation/complete", json={"ticket": ticket, "email": email, "password": password})


def confirm(client, token):
    return client.post("/api/activation/confirm", json={"token": token})


def account_rows(container):
    with container.session_factory() as session:
        return session.execute(sa.select(accounts)).mappings().all()


def error(response):
    return response.status_code, response.json["error"]["code"]


# -- step 1 ------------------------------------------------------------------------------------------------------

def test_check_hands_out_a_ticket_and_the_name_to_greet(client, grant):
    grant("123456")
    response = check(client, pmi_number="12 34 56")
    assert response.status_code == 200
    assert response.json["display_name"] == "Marie Dupont"
    assert response.json["expires_in"] == 900
    assert response.json["pending_email"] is None
    assert response.json["ticket"].count(".") == 2
    assert response.headers["Cache-Control"] == "no-store"


def test_temporary_stop_still_allows_activation(client, grant):
    grant("123456", status="temporary_stop")
    assert check(client).status_code == 200


@pytest.mark.parametrize("pmi_number", ["12345", "1234567", "12a456", 123456])
def test_check_refuses_a_malformed_pmi_number(client, pmi_number):
    response = check(client, pmi_number=pmi_number)
    assert error(response) == (400, "invalid_pmi_number")
    assert response.json["error"]["message"] == "Le numéro de dossier PMI comporte 6 chiffres."


@pytest.mark.parametrize("birth_date", ["17/05/1980", "1980-02-30", 19800517])
def test_check_refuses_a_malformed_birth_date(client, birth_date):
    assert error(check(client, birth_date=birth_date)) == (400, "invalid_birth_date")


def test_check_names_missing_fields(client):
    response = client.post("/api/activation/check", json={"pmi_number": "123456"})
    assert error(response) == (400, "missing_fields")
    assert response.json["error"]["details"] == {"fields": ["birth_date"]}


def test_every_refusal_of_step_1_is_byte_identical(client, grant, flow):
    grant("222222", status="withdrawn")
    grant("333333", status="suspended")
    grant("444444", status="expired")
    flow.activate("123456")
    responses = {
        "unknown number": check(client, pmi_number="999999"),
        "wrong birth date": check(client, birth_date="1980-05-18"),
        "withdrawn": check(client, pmi_number="222222"),
        "suspended": check(client, pmi_number="333333"),
        "expired": check(client, pmi_number="444444"),
        "already active": check(client, pmi_number="123456"),
    }
    assert {case: (r.status_code, r.data) for case, r in responses.items()} == {
        case: (400, responses["unknown number"].data) for case in responses}
    assert responses["unknown number"].json == REFUSED


def test_check_of_a_pending_account_shows_where_the_link_went(client, flow):
    flow.complete(email="marie.dupont@orange.fr")
    assert check(client).json["pending_email"] == "ma•••@orange.fr"


# -- step 2 ------------------------------------------------------------------------------------------------------

def test_complete_creates_a_pending_account_and_asks_for_the_mail_in_the_same_transaction(client, flow, container,
                                                                                            outbox):
    response = complete(client, flow.ticket(), email="  Marie.Dupont@Orange.fr ")
    assert response.status_code == 201
    assert response.json["status"] == "pending_email" and response.json["email"] == "marie.dupont@orange.fr"

    [account] = account_rows(container)
    assert (account["role"], account["pmi_number"], account["email"], account["status"], account["display_name"]) \
        == ("assmat", "123456", "marie.dupont@orange.fr", "pending_email", "Marie Dupont")
    assert account["password_hash"].startswith("$argon2id$")
    assert "correct horse battery" not in account["password_hash"]

    [event] = outbox("identity.email_confirmation_requested")
    assert event["subject"] == account["id"]
    data = event["data"]
    assert (data["account_id"], data["email"], data["display_name"]) == (
        account["id"], "marie.dupont@orange.fr", "Marie Dupont")
    prefix = "https://assmat.example.fr/espace-pro/activation/confirmer?jeton="
    assert data["confirmation_url"].startswith(prefix)
    assert data["expires_at"] == response.json["expires_at"]
    token = data["confirmation_url"][len(prefix):]
    with container.session_factory() as session:
        [stored] = session.execute(sa.select(email_confirmations.c.token_hash)).scalars().all()
    assert stored == hashlib.sha256(token.encode()).hexdigest()


@pytest.mark.parametrize("password, code", [("a" * 11, "weak_password"), ("a" * 201, "password_too_long")])
def test_complete_refuses_a_password_outside_the_policy(client, flow, container, password, code):
    response = complete(client, flow.ticket(), password=password)
    assert error(response) == (400, code)
    if code == "weak_password":
        assert response.json["error"]["message"] == "Le mot de passe doit comporter au moins 12 caractères."
    assert account_rows(container) == []


def test_complete_accepts_a_password_of_exactly_12_characters(client, flow):
    assert complete(client, flow.ticket(), password="chat perché!").status_code == 201


@pytest.mark.parametrize("email", ["marie", "marie@orange", "marie dupont@orange.fr", 42])
def test_complete_refuses_an_invalid_email(client, flow, email):
    assert error(complete(client, flow.ticket(), email=email)) == (400, "invalid_email")


def test_an_email_is_taken_whatever_its_case(client, flow, grant):
    grant("654321", first_name="Julie")
    flow.complete("123456", email="marie.dupont@orange.fr")
    response = complete(client, flow.ticket("654321"), email="Marie.DUPONT@orange.fr")
    assert error(response) == (409, "email_taken")
    assert response.json["error"]["message"] == "Cette adresse e-mail est déjà utilisée par un autre compte."


@pytest.mark.parametrize("ticket", ["not-a-ticket", "a.b.c"])
def test_complete_refuses_a_garbage_ticket(client, ticket):
    assert error(complete(client, ticket)) == (400, "ticket_invalid")


def test_an_access_token_is_not_an_activation_ticket(client, flow, container):
    access_token = issue_token(container.keys.signing_key(), subject="123456", role="assmat",
                               issuer="assmat-identity", audience="assmat-portal", lifetime_seconds=900)
    assert error(complete(client, access_token)) == (400, "ticket_invalid")


def test_a_ticket_is_not_an_access_token(client, flow):
    response = client.get("/api/me", headers={"Authorization": f"Bearer {flow.ticket()}"})
    assert error(response) == (401, "token_invalid")


def test_a_ticket_expires_after_15_minutes(client, flow, clock):
    ticket = flow.ticket()
    clock.advance(minutes=15)
    response = complete(client, ticket)
    assert error(response) == (400, "ticket_expired")
    assert response.json["error"]["message"] == "Votre session d'activation a expiré, recommencez l'étape 1."


def test_doing_step_2_again_replaces_the_pending_account_and_kills_the_old_link(client, flow, container, outbox):
    first_link = flow.complete(email="marie.dupnt@orange.fr")
    second_link = flow.complete(email="marie.dupont@orange.fr", password="another long password")
    [account] = account_rows(container)
    assert account["email"] == "marie.dupont@orange.fr"
    assert [e["data"]["account_id"] for e in outbox("identity.email_confirmation_requested")] == [account["id"]] * 2
    assert error(confirm(client, first_link)) == (400, "link_invalid")
    assert confirm(client, second_link).status_code == 200
    assert flow.login(password="another long password").status_code == 200


def test_a_pending_account_keeps_its_own_address(client, flow):
    flow.complete(email="marie.dupont@orange.fr")
    assert complete(client, flow.ticket(), email="MARIE.dupont@orange.fr").status_code == 201


def test_step_2_after_activation_says_the_account_is_active(client, flow):
    ticket = flow.ticket()
    flow.activate()
    assert error(complete(client, ticket, email="other@free.fr")) == (409, "account_already_active")


def test_step_2_is_refused_when_the_agrement_was_withdrawn_meanwhile(client, flow, grant, container):
    ticket = flow.ticket()
    grant("123456", agrement_events.AGREMENT_WITHDRAWN, status="withdrawn")
    assert complete(client, ticket).json == REFUSED
    assert account_rows(container) == []


# -- the link ----------------------------------------------------------------------------------------------------

def test_following_the_link_activates_the_account(client, flow, container, outbox):
    response = confirm(client, flow.complete())
    assert response.status_code == 200
    [account] = account_rows(container)
    assert response.json["account"] == {"id": account["id"], "role": "assmat", "pmi_number": "123456",
                                        "display_name": "Marie Dupont", "email": "marie.dupont@orange.fr"}
    assert account["status"] == "active" and account["activated_at"] is not None
    [event] = outbox("identity.account_activated")
    assert event["subject"] == account["id"]
    assert event["data"] == {"account_id": account["id"], "role": "assmat", "pmi_number": "123456",
                             "method": "password", "email": "marie.dupont@orange.fr"}


def test_a_link_works_once(client, flow, outbox):
    token = flow.complete()
    assert confirm(client, token).status_code == 200
    response = confirm(client, token)
    assert error(response) == (400, "link_used")
    assert response.json["error"]["message"] == \
        "Ce lien a déjà été utilisé : votre compte est activé, connectez-vous."
    assert len(outbox("identity.account_activated")) == 1


def test_a_link_expires_after_48_hours(client, flow, clock, container):
    token = flow.complete()
    clock.advance(hours=48)
    response = confirm(client, token)
    assert error(response) == (400, "link_expired")
    assert response.json["error"]["message"] == \
        "Ce lien a expiré. Recommencez l'activation pour recevoir un nouveau lien."
    assert account_rows(container)[0]["status"] == "pending_email"


def test_a_link_still_works_just_before_it_expires(client, flow, clock):
    token = flow.complete()
    clock.advance(hours=47, minutes=59)
    assert confirm(client, token).status_code == 200


@pytest.mark.parametrize("token", ["unknown-token", 42])
def test_an_unknown_link_is_invalid(client, token):
    assert error(confirm(client, token)) == (400, "link_invalid")


def test_resend_mails_a_fresh_link_and_the_earlier_one_still_works(client, flow, outbox):
    first_link = flow.complete()
    response = client.post("/api/activation/resend", json={"ticket": flow.ticket()})
    assert response.status_code == 200
    assert response.json["email"] == "ma•••@orange.fr"
    events = outbox("identity.email_confirmation_requested")
    assert len(events) == 2 and events[0]["data"]["email"] == events[1]["data"]["email"]
    second_link = flow.last_link_token()
    assert second_link != first_link
    assert confirm(client, first_link).status_code == 200
    # The account is active: the other link reads as used rather than opening it a second time.
    assert error(confirm(client, second_link)) == (400, "link_used")


def test_resend_needs_a_pending_activation(client, flow):
    ticket = flow.ticket()
    assert error(client.post("/api/activation/resend", json={"ticket": ticket})) == (409, "no_pending_activation")
    flow.activate()
    assert error(client.post("/api/activation/resend", json={"ticket": ticket})) == (409, "no_pending_activation")


def test_resend_needs_a_valid_ticket(client):
    assert error(client.post("/api/activation/resend", json={"ticket": "forged"})) == (400, "ticket_invalid")


def test_every_refusal_has_a_status():
    from identity.accounts.domain.refusals import MESSAGES
    from identity.web import _STATUS
    assert set(_STATUS) == set(MESSAGES)
