"""Settings of the gateway, the forms' checks, and how pages write dates and counts."""
from __future__ import annotations

from datetime import date

import pytest

from gateway.clients import DownstreamError
from gateway.presentation import date_fr, person_name, plural
from gateway.settings import Settings
from gateway.web.forms import Form, check_date, check_pmi_number
from services.settings import SettingsError, load


def test_the_secret_key_and_the_session_store_are_required_outside_local_runs():
    with pytest.raises(SettingsError, match="GATEWAY_SECRET_KEY.*GATEWAY_STORE_URL"):
        load(Settings, "gateway", environ={"ASSMAT_ENV": "production"})
    with pytest.raises(SettingsError, match="GATEWAY_SECRET_KEY.*GATEWAY_STORE_URL"):
        load(Settings, "gateway", environ={})  # no ASSMAT_ENV: production


@pytest.mark.parametrize("key", ["k", "CHANGE_ME-gateway-secret-key-long-enough-to-pass", "CHANGE_ME-a-long-random-value"])
def test_a_short_or_placeholder_secret_key_stops_start_up(key):
    with pytest.raises(SettingsError, match="GATEWAY_SECRET_KEY"):
        load(Settings, "gateway", environ={"ASSMAT_ENV": "production", "GATEWAY_SECRET_KEY": key,
                                           "GATEWAY_STORE_URL": "redis://redis:6379/0"})


PRODUCTION_KEY = "tK8vQ2mZr5Wc9LbN3xHd7YfJ1pGs4AeU6oRi0VkTnBq"


def test_the_gateway_needs_neither_a_database_nor_a_broker_in_production():
    settings = load(Settings, "gateway", environ={"ASSMAT_ENV": "production", "GATEWAY_SECRET_KEY": PRODUCTION_KEY,
                                                  "GATEWAY_STORE_URL": "redis://redis:6379/0",
                                                  "GATEWAY_FICHE_URL": "http://fiche:8103"})
    assert settings.fiche_url == "http://fiche:8103" and settings.departement == "28"
    assert not settings.is_local


@pytest.mark.parametrize("parts, message", [
    (("", "4", "1985"), "doit comporter un jour, un mois et une année"),
    (("31", "2", "1985"), "doit être une date réelle"),
    (("1", "13", "1985"), "doit être une date réelle"),
    (("12", "4", "85"), "année sur 4 chiffres"),
    (("12", "4", "2030"), "doit être dans le passé"),
])
def test_a_bad_birth_date_is_explained(parts, message):
    form = Form(("d", "d_day", "d_month", "d_year"), dict(zip(("d_day", "d_month", "d_year"), parts)))
    assert check_date(form, "d", "La date", date(2025, 6, 1)) is None
    assert message in form.errors["d"]


def test_a_birth_date_in_three_fields_is_read():
    form = Form(("d", "d_day", "d_month", "d_year"), {"d_day": " 7", "d_month": "04 ", "d_year": "1985"})
    assert check_date(form, "d", "La date", date(2025, 6, 1)) == date(1985, 4, 7)
    assert form.ok


@pytest.mark.parametrize("value, ok", [("280001", True), ("28001", False), ("2800011", False), ("28000a", False),
                                       ("", False), ("١٢٣٤٥٦", False), ("２８０００１", False)])
def test_pmi_number_has_six_digits(value, ok):
    form = Form(("pmi_number",), {"pmi_number": value})
    check_pmi_number(form)
    assert form.ok is ok


@pytest.mark.parametrize("typed", ["28 00 01", " 280 001 "])
def test_pmi_number_typed_with_spaces_is_read_as_identity_reads_it(typed):
    form = Form(("pmi_number",), {"pmi_number": typed})
    check_pmi_number(form)
    assert form.ok and form["pmi_number"] == "280001"


def test_a_refusal_goes_next_to_the_field_its_code_names_else_to_the_first_field():
    form = Form(("email", "password"), {})
    form.refusal(DownstreamError(400, "weak_password", "Trop faible."), {"email": "email", "password": "password"})
    form.refusal(DownstreamError(409, "conflict", "Réessayez."), {"email": "email", "password": "password"})
    assert form.errors == {"password": "Trop faible.", "email": "Réessayez."}
    assert form.summary() == [("email", "Réessayez."), ("password", "Trop faible.")]


def test_passwords_are_kept_as_typed_but_never_shown_back():
    form = Form(("email", "password"), {"email": " a@b.fr ", "password": " secret "}, secret=("password",))
    assert form["email"] == "a@b.fr" and form["password"] == " secret "
    assert form.shown("email") == "a@b.fr" and form.shown("password") == ""


def test_dates_names_and_counts_in_french():
    assert date_fr("2021-09-01") == "1er septembre 2021"
    assert date_fr("2026-08-31") == "31 août 2026"
    assert date_fr("bientôt") == "bientôt"
    assert person_name({"civility": "Mme", "first_name": "Claire", "last_name": "Martin"}) == "Mme Claire Martin"
    assert person_name({"first_name": "Claire", "last_name": "Martin", "civility": None}) == "Claire Martin"
    assert (plural(0, "place"), plural(1, "place"), plural(4, "place")) == ("0 place", "1 place", "4 places")


@pytest.mark.parametrize("target, expected", [
    (None, None), ("", None), ("/espace-pro", "/espace-pro"), ("/espace-pro?onglet=agrement", "/espace-pro?onglet=agrement"),
    ("/espace-pmi/agrements", "/espace-pmi/agrements"), ("https://example.com/", None), ("//example.com", None),
    ("/espace-pro//example.com", None), ("/espace-pro\\\\example.com", None), ("/espace-professionnel", None),
    ("/espace-pro/<script>", None)])
def test_a_return_address_stays_in_the_spaces_that_need_a_login(target, expected):
    from gateway.web.forms import safe_next
    assert safe_next(target) == expected


@pytest.mark.parametrize("target", ["/espace-pro\r\nSet-Cookie: x=1", "/espace-pro\x00", "/espace-pro" + "a" * 600])
def test_a_return_address_that_could_become_a_header_is_refused(target):
    from gateway.web.forms import BadInput, safe_next
    with pytest.raises(BadInput):
        safe_next(target)


@pytest.mark.parametrize("value, ok", [("1", True), ("10000", True), ("0", False), ("10001", False), ("²", False),
                                       ("١٢", False), ("-1", False), ("1e3", False), ("99999999999999999999", False)])
def test_page_numbers_are_ascii_digits_within_bounds(value, ok):
    from gateway.web.forms import BadInput, parse_page
    if ok:
        assert parse_page(value) == int(value)
    else:
        with pytest.raises(BadInput, match="doit être un nombre entier"):
            parse_page(value)
