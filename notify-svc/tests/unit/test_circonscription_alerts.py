"""Alerts to the circonscriptions: NOTIFY_CIRCONSCRIPTION_ADDRESSES parsed and checked at start-up, and the three
mails (late declaration, capacity exceeded, exceptional over-capacity) in French, with the PMI number, the dates,
what was exceeded and the link to the PMI's space; nothing about a child; nothing that could forge a header."""
import datetime as dt
import uuid
from email import message_from_bytes, policy
from email.headerregistry import Address

import pytest

from notify.mails.domain.alerts import (
    Skipped, capacity_exceeded, late_declaration, over_capacity_declared, parse_mailboxes)
from notify.mails.domain.messages import compose
from notify.mails.domain.rendering import render
from notify.settings import load_settings
from services.events import InvalidEvent
from services.settings import SettingsError

MAILBOXES = parse_mailboxes("Chartres=pmi.chartres@cd28.fr;Dreux=pmi.dreux@cd28.fr")
BASE = "https://assmat.eure-et-loir.fr/"
DECLARED = {"declaration_id": "d-1", "contract_id": "c-1", "pmi_number": "280001", "circonscription": "Chartres",
            "kind": "arrival", "effective_date": "2026-03-02", "declared_at": "2026-03-16T09:05:00+00:00",
            "late": True, "over_capacity": False}
EXCEEDED = {"pmi_number": "280001", "circonscription": "Chartres", "contract_id": "c-1", "declaration_id": "d-1",
            "exceedances": [{"date": "2026-03-02", "start": "08:00", "end": "12:30", "rules": ["places", "under_3"],
                             "exceptional": False}]}
OVER = {"declaration_id": "o-1", "pmi_number": "280001", "circonscription": "Dreux", "start_date": "2026-03-02",
        "end_date": "2026-03-03", "reason": "Hospitalisation de la collègue, Léa reste avec moi",
        "day_totals": {"2026-03-03": 7, "2026-03-02": 8}, "late": True}


def rendered(composer, data, mailboxes=MAILBOXES):
    draft = composer(data, mailboxes=mailboxes, base_url=BASE)
    return draft, render(draft.template, draft.context)


def test_the_setting_is_parsed_whatever_the_case_and_spacing_and_empty_means_none():
    assert parse_mailboxes(" Chartres = pmi.chartres@cd28.fr ; ;Nogent-le-Rotrou=pmi.nogent@cd28.fr;") == {
        "chartres": "pmi.chartres@cd28.fr", "nogent-le-rotrou": "pmi.nogent@cd28.fr"}
    assert parse_mailboxes("") == {}


@pytest.mark.parametrize(("value", "complaint"), [
    ("Chartres", "n'est pas de la forme circonscription=adresse"),
    ("=pmi@cd28.fr", "n'est pas de la forme"),
    ("Chartres=pas une adresse", "n'est pas une adresse e-mail"),
    ("Chartres=a@cd28.fr, b@cd28.fr", "n'est pas une adresse e-mail"),
    ("Chartres=a@cd28.fr;chartres=b@cd28.fr", "donnée deux fois"),
])
def test_a_bad_setting_stops_start_up_naming_the_variable(local_environ, value, complaint):
    with pytest.raises(SettingsError) as caught:
        load_settings({**local_environ, "NOTIFY_CIRCONSCRIPTION_ADDRESSES": value})
    assert "NOTIFY_CIRCONSCRIPTION_ADDRESSES" in str(caught.value) and complaint in str(caught.value)


def test_a_good_setting_loads(local_environ):
    settings = load_settings({**local_environ, "NOTIFY_CIRCONSCRIPTION_ADDRESSES": "Dreux=pmi.dreux@cd28.fr",
                              "PUBLIC_BASE_URL": "https://portail.example"})
    assert settings.circonscription_addresses == "Dreux=pmi.dreux@cd28.fr"
    assert settings.public_base_url == "https://portail.example"


def test_a_late_declaration_is_mailed_to_its_circonscription():
    draft, mail = rendered(late_declaration, {**DECLARED, "circonscription": "  CHARTRES "})
    assert (draft.template, draft.recipient) == ("circonscription_late_declaration", "pmi.chartres@cd28.fr")
    assert mail.subject == "Déclaration tardive – assmat n° 280001 – portail des assistants maternels"
    for part in (mail.text, mail.html):
        assert "280001" in part and "lundi 2 mars 2026" in part and "Arrivée d" in part
        assert "lundi 16 mars 2026 à 10 h 05" in part  # Paris time
        assert "https://assmat.eure-et-loir.fr/espace-pmi/declarations" in part
    assert "À consulter dans l'espace PMI : https://assmat.eure-et-loir.fr/espace-pmi/declarations" in mail.text
    assert "dépasse aussi la capacité" not in mail.text
    _, over = rendered(late_declaration, {**DECLARED, "over_capacity": True})
    assert "dépasse aussi la capacité" in over.text


def test_a_declaration_on_time_is_not_mailed():
    with pytest.raises(Skipped) as caught:
        late_declaration({**DECLARED, "late": False}, mailboxes=MAILBOXES, base_url=BASE)
    assert not caught.value.warning


@pytest.mark.parametrize("composer,data", [(late_declaration, DECLARED), (capacity_exceeded, EXCEEDED),
                                           (over_capacity_declared, OVER)])
def test_an_unknown_circonscription_or_no_mailbox_at_all_is_skipped_with_a_warning(composer, data):
    for mailboxes in ({"chateaudun": "pmi.chateaudun@cd28.fr"}, {}):
        with pytest.raises(Skipped) as caught:
            composer({**data, "circonscription": "Bonneval"} if mailboxes else data, mailboxes=mailboxes,
                     base_url=BASE)
        assert caught.value.warning and "NOTIFY_CIRCONSCRIPTION_ADDRESSES" in str(caught.value)


def test_a_capacity_exceedance_says_when_and_which_rules():
    draft, mail = rendered(capacity_exceeded, EXCEEDED)
    assert (draft.template, draft.recipient) == ("circonscription_capacity_exceeded", "pmi.chartres@cd28.fr")
    assert mail.subject == "Capacité d'accueil dépassée – assmat n° 280001 – portail des assistants maternels"
    assert ("- le lundi 2 mars 2026, de 8 h 00 à 12 h 30 : nombre d'enfants accueillis supérieur aux places de "
            "l'agrément ; plus de 4 enfants de moins de 3 ans présents") in mail.text
    assert "/espace-pmi/declarations" in mail.html and "lundi 2 mars 2026" in mail.html


def test_a_long_list_of_exceedances_is_cut_with_the_count_of_the_rest():
    many = [{**EXCEEDED["exceedances"][0], "date": f"2026-03-{day:02d}"} for day in range(1, 26)]
    draft, mail = rendered(capacity_exceeded, {**EXCEEDED, "exceedances": many})
    assert len(draft.context["exceedances"]) == 20 and "et 5 autres dépassements." in mail.text


def test_an_over_capacity_gives_each_days_total_and_says_late_but_not_the_reason():
    draft, mail = rendered(over_capacity_declared, OVER)
    assert (draft.template, draft.recipient) == ("circonscription_over_capacity", "pmi.dreux@cd28.fr")
    assert mail.subject == ("Accueil en surnombre déclaré tardivement – assmat n° 280001 – "
                            "portail des assistants maternels")
    assert "- lundi 2 mars 2026 : 8\n- mardi 3 mars 2026 : 7" in mail.text
    assert "du lundi 2 mars 2026 au mardi 3 mars 2026, déclaré tardivement" in mail.text
    assert "<strong>déclaré tardivement</strong>" in mail.html
    # The reason is free text and may name a child: the agents read it in the PMI's space.
    assert "Léa" not in mail.text + mail.html and "Hospitalisation" not in mail.text + mail.html
    _, on_time = rendered(over_capacity_declared, {**OVER, "late": False})
    assert "tardivement" not in on_time.subject + on_time.text + on_time.html


@pytest.mark.parametrize("composer,data", [
    (late_declaration, {**DECLARED, "effective_date": "demain"}),
    (late_declaration, {**DECLARED, "kind": "adoption"}),
    (late_declaration, {**DECLARED, "pmi_number": ""}),
    (capacity_exceeded, {**EXCEEDED, "exceedances": []}),
    (capacity_exceeded, {**EXCEEDED, "exceedances": [{"date": "2026-03-02", "start": "8h", "end": "9:00"}]}),
    (over_capacity_declared, {**OVER, "day_totals": {"2026-03-02": "huit"}}),
    (over_capacity_declared, {**OVER, "day_totals": {}}),
])
def test_data_that_would_make_a_wrong_mail_is_refused(composer, data):
    with pytest.raises(InvalidEvent):
        composer(data, mailboxes=MAILBOXES, base_url=BASE)


def test_a_pmi_number_with_a_line_break_cannot_write_a_header():
    draft, mail = rendered(late_declaration, {**DECLARED, "pmi_number": "280001\r\nBcc: x@evil.fr"})
    message = compose(uuid.uuid4(), Address("PMI", "ne-pas-repondre", "cd28.fr"), draft, mail,
                      dt.datetime(2026, 3, 16, tzinfo=dt.timezone.utc))
    parsed = message_from_bytes(message.as_bytes(policy=policy.SMTP), policy=policy.default)
    assert parsed["Bcc"] is None and parsed["To"].addresses[0].addr_spec == "pmi.chartres@cd28.fr"
    assert "\n" not in str(parsed["Subject"]) and "280001 Bcc: x@evil.fr" in str(parsed["Subject"])


def test_local_runs_give_the_demo_circonscriptions_a_mailbox(tmp_path):
    from services.cli import embedded_environment

    environ = embedded_environment(tmp_path, base={})
    settings = load_settings(environ)
    mailboxes = parse_mailboxes(settings.circonscription_addresses)
    assert set(mailboxes) == {"chartres", "dreux", "châteaudun", "nogent-le-rotrou"}
    draft = late_declaration({**DECLARED, "circonscription": "Châteaudun"}, mailboxes=mailboxes, base_url=BASE)
    assert draft.recipient == "pmi.chateaudun@cd28.example"
