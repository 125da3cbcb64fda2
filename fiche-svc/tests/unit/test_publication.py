"""Publication rules (DOMAIN.md "Rules"; CASF D421-15 for the opposition)."""
import dataclasses
import datetime as dt

import pytest

from fiche.projection.domain.agrement import agrement_state, pmi_number
from fiche.projection.domain.publication import (commune_point, shown_point, public_contact, public_fiche, public_location,
                                                 publishable, unpublished_reason, withdrawal_status)
from services.events import InvalidEvent

TODAY = dt.date(2025, 6, 15)


@pytest.fixture
def state(make):
    return agrement_state(make.agrement_data(validity_end="2027-12-31"))


@pytest.mark.parametrize("status, reason", [
    ("active", None),
    ("temporary_stop", None),
    ("suspended", "suspended"),
    ("withdrawn", "withdrawn"),
    ("expired", "expired"),
    ("not_started", "not_started"),
    ("struck_off", "unknown_status"),  # a status added upstream hides the fiche rather than showing it
])
def test_only_active_and_temporarily_stopped_agrements_are_public(state, status, reason):
    assert unpublished_reason(dataclasses.replace(state, status=status), TODAY) == reason


def test_opposition_to_publication_hides_the_fiche_D421_15(state):
    assert unpublished_reason(dataclasses.replace(state, publication_opposed=True), TODAY) == "opposed"


@pytest.mark.parametrize("sent, kept", [
    ("suspended", "suspended"), ("withdrawn", "withdrawn"), ("active", "withdrawn"), ("temporary_stop", "withdrawn"),
    (None, "withdrawn"), ("", "withdrawn"),
])
def test_a_withdrawal_never_leaves_a_public_status(sent, kept):
    assert withdrawal_status(sent) == kept


def test_validity_end_is_the_last_public_day(state):
    assert unpublished_reason(dataclasses.replace(state, validity_end=TODAY), TODAY) is None
    assert unpublished_reason(dataclasses.replace(state, validity_end=TODAY - dt.timedelta(days=1)),
                              TODAY) == "expired"


def test_an_agrement_without_end_date_does_not_lapse(state):
    assert unpublished_reason(dataclasses.replace(state, validity_end=None), TODAY) is None


@pytest.mark.parametrize("status", ["active", "temporary_stop"])
def test_an_agrement_not_yet_in_force_is_not_public_before_its_first_day_L421_3(state, status):
    # A decision sent before it takes effect: she may not look after children yet (CASF L421-1, L421-3), so
    # parents must not find her, contact details or not.
    starting = dataclasses.replace(state, status=status, validity_start=TODAY + dt.timedelta(days=1))
    assert unpublished_reason(starting, TODAY) == "not_started"
    assert unpublished_reason(starting, TODAY + dt.timedelta(days=1)) is None  # public on its first day
    assert unpublished_reason(dataclasses.replace(starting, validity_start=TODAY - dt.timedelta(days=1)),
                              TODAY) is None


def test_an_agrement_without_start_date_is_public_from_any_day(state):
    assert unpublished_reason(dataclasses.replace(state, validity_start=None), TODAY) is None


def test_agrement_state_reads_both_validity_dates(make):
    state = agrement_state(make.agrement_data(validity_start="2026-09-01", validity_end="2031-08-31"))
    assert (state.validity_start, state.validity_end) == (dt.date(2026, 9, 1), dt.date(2031, 8, 31))


@pytest.mark.parametrize("status", ["active", "temporary_stop", "suspended", "withdrawn", "struck_off"])
@pytest.mark.parametrize("opposed", [False, True])
@pytest.mark.parametrize("start, end", [(None, None), (-1, 1), (0, 0), (1, 5), (-5, -1)])
def test_publishable_is_the_rule_without_the_start_date(state, status, opposed, start, end):
    def day(offset):
        return None if offset is None else TODAY + dt.timedelta(days=offset)

    dated = dataclasses.replace(state, status=status, publication_opposed=opposed, validity_start=day(start),
                                validity_end=day(end))
    allowed = status in ("active", "temporary_stop") and not opposed
    assert publishable(dated, TODAY) is (allowed and (end is None or end >= 0))
    # Public on the day exactly when publishable and started:
    started = start is None or start <= 0
    assert (unpublished_reason(dated, TODAY) is None) is (publishable(dated, TODAY) and started)


def test_temporary_stop_hides_contact_details():
    assert public_contact("temporary_stop", "a@example.org", "02 37 00 00 00") is None


def test_active_shows_the_contact_details_that_exist():
    assert public_contact("active", "a@example.org", "02 37 00 00 00") == {
        "email": "a@example.org", "phone": "02 37 00 00 00"}
    assert public_contact("active", None, "02 37 00 00 00") == {"phone": "02 37 00 00 00"}
    assert public_contact("active", None, None) is None


def test_the_contact_she_asks_to_hide_is_not_shown():
    assert public_contact("active", "a@example.org", "02 37 00 00 00", hidden_channel="email") == {
        "phone": "02 37 00 00 00"}


def test_the_pin_is_the_communes_and_only_for_the_agrements_commune():
    assert public_location("28085", "28085", 48.44, 1.49) == {
        "latitude": 48.44, "longitude": 1.49, "precision": "municipality"}
    assert public_location("28085", "28209", 48.47, 1.48) is None  # she moved; the new place is not known yet
    assert public_location("28085", None, None, None) is None


def test_a_house_number_location_is_replaced_by_the_communes_point():
    assert commune_point("housenumber", 48.4461, 1.4792, 48.4435, 1.4882) == (48.4435, 1.4882)
    assert commune_point("municipality", 48.4435, 1.4882, 48.40, 1.40) == (48.4435, 1.4882)


def _record(**overrides):
    record = {"fiche_id": "f" * 32, "kind": "assmat", "status": "active", "civility": "Mme",
              "first_name": "Marie", "last_name": "Lefèvre", "email": "m@example.org", "phone": "02 37 00 00 01",
              "postcode": "28000", "commune_insee": "28085", "commune_name": "Chartres", "capacity_total": 4,
              "capacity_under_3": 3, "in_mam": False, "mam_name": None, "place_commune_insee": "28085",
              "latitude": 48.44, "longitude": 1.49}
    record.update(overrides)
    return record


def test_public_fiche_shows_name_commune_capacity_and_contact():
    fiche = public_fiche(_record())
    assert fiche["civility"] == "Mme" and fiche["first_name"] == "Marie" and fiche["last_name"] == "Lefèvre"
    assert fiche["commune"] == {"insee": "28085", "name": "Chartres", "postcode": "28000"}
    assert fiche["capacity"] == {"total": 4, "under_3": 3}
    assert fiche["contact"] == {"phone": "02 37 00 00 01", "email": "m@example.org"}
    assert fiche["mam"] is None


def test_public_fiche_names_the_mam_only_for_an_assmat_working_in_one():
    assert public_fiche(_record(in_mam=True, mam_name="MAM Les Lutins"))["mam"] == {"name": "MAM Les Lutins"}
    assert public_fiche(_record(in_mam=False, mam_name="MAM Les Lutins"))["mam"] is None


def test_public_fiche_in_temporary_stop_has_no_contact():
    assert public_fiche(_record(status="temporary_stop"))["contact"] is None


def test_agrement_state_keeps_nothing_the_public_must_not_see(make):
    state = agrement_state(make.agrement_data())
    kept = {field.name for field in dataclasses.fields(state)}
    # The validity dates are kept: they decide on which days the fiche is public. The MAM's id is kept since
    # issue 8 (a structure's identifier, not personal data): the MAM's fiche lists the assmats working in it.
    assert not kept & {"birth_date", "birth_name", "address_line", "address_complement", "circonscription",
                       "pmi_number"}
    assert make.birth_date not in repr(state) and make.home_address not in repr(state)


@pytest.mark.parametrize("field, value", [
    ("postcode", "2800"), ("commune_insee", "chartres"), ("capacity_total", -1), ("capacity_under_3", "3"),
    ("publication_opposed", "false"), ("validity_end", "31/12/2027"), ("validity_start", "01/01/2022"),
    ("last_name", " "), ("status", None),
    ("postcode", "２８０００"), ("commune_insee", "٢٨٠٨٥"), ("commune_insee", "2a004"),
])
def test_an_unusable_agrement_is_refused(make, field, value):
    with pytest.raises(InvalidEvent, match=field):
        agrement_state(make.agrement_data(**{field: value}))


@pytest.mark.parametrize("subject", ["12345", "1234567", "123456\n", "١٢٣٤٥٦", "１２３４５６", " 123456", None])
def test_an_agrement_subject_must_be_a_pmi_number(subject):
    with pytest.raises(InvalidEvent, match="6-digit PMI number"):
        pmi_number(subject)


def test_a_pmi_number_keeps_its_leading_zeros():
    assert pmi_number("000042") == "000042"


def test_corsican_insee_codes_are_accepted(make):
    assert agrement_state(make.agrement_data(commune_insee="2A004", postcode="20000")).commune_insee == "2A004"


def test_the_pin_shown_is_geo_svcs_public_point_when_it_sends_one():
    # geo-svc blurred the home to its grid (or, by the département's choice, sends the address): that is shown.
    assert shown_point(48.4470, 1.4800, "housenumber", 48.4461, 1.4792, 48.4435, 1.4882) == (48.4470, 1.4800)
    # An event from before geo-svc sent public points: the commune's point, as before.
    assert shown_point(None, None, "housenumber", 48.4461, 1.4792, 48.4435, 1.4882) == (48.4435, 1.4882)
    assert shown_point(48.4470, None, "housenumber", 48.4461, 1.4792, 48.4435, 1.4882) == (48.4435, 1.4882)


@pytest.mark.parametrize("hidden", [None, False, True])
def test_a_fiche_published_without_contact_details_never_learns_them(make, hidden):
    data = make.agrement_data(validity_end="2027-12-31", email="a@example.org", phone="02 37 00 00 00")
    if hidden is not None:
        data["publication_contact_hidden"] = hidden   # agrement-svc's back office: "publiée sans coordonnées"
    state = agrement_state(data)
    assert (state.email, state.phone) == ((None, None) if hidden else ("a@example.org", "02 37 00 00 00"))
    assert unpublished_reason(state, TODAY) is None   # still on the site


def test_agrement_state_keeps_the_mam_id_only_for_an_assmat_working_in_a_mam(make):
    in_mam = agrement_state({**make.agrement_data(), "place_type": "mam", "mam_id": "MAM28-01"})
    at_home = agrement_state({**make.agrement_data(), "place_type": "home", "mam_id": "MAM28-01"})
    assert (in_mam.in_mam, in_mam.mam_id) == (True, "MAM28-01")
    assert (at_home.in_mam, at_home.mam_id) == (False, None)
