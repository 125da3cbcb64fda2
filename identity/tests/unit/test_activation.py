import datetime as dt

import pytest

from identity.accounts.domain import ACTIVE, PENDING_EMAIL
from identity.accounts.domain.refusals import Refusal
from identity.activation.domain import (
    TICKET_LIFETIME, check_confirmation_link, issue_ticket, may_activate, read_ticket)
from identity.holders.domain import Holder
from services.auth import generate_signing_key, issue_token

BIRTH = dt.date(1980, 5, 17)
NOW = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.timezone.utc)


def holder(status="active"):
    return Holder("123456", BIRTH, "Marie", "Dupont", status)


@pytest.fixture(scope="module")
def key():
    return generate_signing_key()


@pytest.mark.parametrize("status", ["active", "temporary_stop"])
def test_holder_with_a_live_agrement_may_activate(status):
    assert may_activate(holder(status), None, BIRTH)


def test_a_pending_account_may_be_activated_again():
    assert may_activate(holder(), PENDING_EMAIL, BIRTH)


@pytest.mark.parametrize("case, args", [
    ("unknown number", (None, None, BIRTH)),
    ("wrong birth date", (holder(), None, dt.date(1980, 5, 18))),
    ("suspended", (holder("suspended"), None, BIRTH)),
    ("withdrawn", (holder("withdrawn"), None, BIRTH)),
    ("expired", (holder("expired"), None, BIRTH)),
    ("already active", (holder(), ACTIVE, BIRTH)),
])
def test_every_refusal_reason_gives_the_same_no(case, args):
    assert may_activate(*args) is False


def test_display_name_joins_first_and_last_name():
    assert holder().display_name == "Marie Dupont"
    assert Holder("123456", BIRTH, "", "Dupont", "active").display_name == "Dupont"


def test_ticket_carries_the_pmi_number_until_it_expires(key):
    ticket = issue_ticket(key, "123456", "assmat-identity", NOW)
    assert read_ticket(ticket, [key], "assmat-identity", NOW + TICKET_LIFETIME - dt.timedelta(seconds=1)) == "123456"
    with pytest.raises(Refusal) as refused:
        read_ticket(ticket, [key], "assmat-identity", NOW + TICKET_LIFETIME)
    assert refused.value.code == "ticket_expired"


@pytest.mark.parametrize("make", [
    lambda key: "not-a-ticket",
    lambda key: issue_ticket(key, "123456", "assmat-identity", NOW)[:-4] + "AAAA",
    lambda key: issue_ticket(generate_signing_key(), "123456", "assmat-identity", NOW),
    lambda key: issue_ticket(key, "123456", "someone-else", NOW),
    lambda key: issue_token(key, subject="123456", role="assmat", issuer="assmat-identity",
                            audience="assmat-portal", lifetime_seconds=900),
    lambda key: 42,
])
def test_forged_foreign_or_malformed_tickets_are_invalid(key, make):
    with pytest.raises(Refusal) as refused:
        read_ticket(make(key), [key], "assmat-identity", NOW)
    assert refused.value.code == "ticket_invalid"


def test_confirmation_link_works_once_before_it_expires():
    expires = NOW + dt.timedelta(hours=48)
    check_confirmation_link(None, expires, NOW)
    for used_at, now, code in [(NOW, NOW, "link_used"), (None, expires, "link_expired"),
                               (NOW, expires, "link_used")]:
        with pytest.raises(Refusal) as refused:
            check_confirmation_link(used_at, expires, now)
        assert refused.value.code == code
