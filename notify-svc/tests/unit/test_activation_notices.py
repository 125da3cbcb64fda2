"""The two mails that tell an address about an activation it may not have made."""
import pytest

from notify.mails.consumers import MAILS
from notify.mails.domain.messages import activation_address_replaced, activation_elsewhere_notice
from notify.mails.domain.rendering import render
from services.catalogue.identity import ACTIVATION_ADDRESS_REPLACED, ACTIVATION_ELSEWHERE_NOTICE
from services.events import InvalidEvent


def test_the_previous_address_is_told_another_one_was_given():
    draft = activation_address_replaced({"account_id": "a", "email": "marie.dupnt@orange.fr",
                                         "display_name": "Marie\nDupont", "new_email_masked": "ma•••@orange.fr"})
    rendered = render(draft.template, draft.context)
    assert draft.recipient == "marie.dupnt@orange.fr" and draft.recipient_name == "Marie Dupont"
    assert "ma•••@orange.fr" in rendered.text and "ne fonctionne donc plus" in rendered.text
    assert "Ce n'est pas vous" in rendered.html and rendered.subject


def test_the_extract_address_is_told_of_an_activation_elsewhere():
    draft = activation_elsewhere_notice({"account_id": "a", "email": "marie@laposte.net", "display_name": "Marie",
                                         "account_email_masked": "so•••@free.fr", "method": "pmi_central"})
    rendered = render(draft.template, draft.context)
    assert "so•••@free.fr" in rendered.text and "par la PMI centrale" in rendered.text
    assert "mot de passe" not in rendered.text.lower()


def test_both_are_mailed_and_refuse_a_bad_address():
    assert {ACTIVATION_ADDRESS_REPLACED, ACTIVATION_ELSEWHERE_NOTICE} <= set(MAILS)
    with pytest.raises(InvalidEvent):
        activation_elsewhere_notice({"email": "not an address"})
