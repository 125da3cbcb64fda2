"""Issue 7 in Chromium, every service on the real servers: an assmat reads her Agrément tab and reports a move
(with a PDF); an agent of her circonscription finds the report in the back office, opens it and takes it in hand;
an agent of another circonscription does not see it. Screenshots in test-artifacts/.

A declared contract and a report seen together in the back office, by the agent of her circonscription and not by
another: tests/browser/test_backoffice_in_chromium.py."""
from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import activate_holder, assmat_login, shot, staff_account, staff_login
from tests.e2e.portal import write_demo_extract

pytestmark = pytest.mark.browser
PASSWORD = "une phrase de passe pour signaler"
FIRST_PMI_NUMBER = 370000   # this module's own range (the portal is shared by the run's tests)


@pytest.fixture(scope="module")
def holder(portal, tmp_path_factory):
    """The demo's Marie DUPONT (Chartres) renumbered, imported, and her account activated through the pages."""
    extract = tmp_path_factory.mktemp("reports") / "demo.csv"
    row = write_demo_extract(portal, extract, count=5, seed=7, first_pmi_number=FIRST_PMI_NUMBER)[0]
    assert (row["last_name"], row["circonscription"]) == ("DUPONT", "Chartres")
    assert portal.run_import(extract).returncode == 0
    activate_holder(portal, row, PASSWORD)
    return row


def test_a_reported_move_reaches_the_agent_of_her_circonscription_and_no_other(portal, chromium, holder):
    chartres, dreux = staff_account(portal, "Chartres"), staff_account(portal, "Dreux")
    assmat = chromium.new_context(locale="fr-FR").new_page()
    assmat_login(portal, assmat, holder["pmi_number"], PASSWORD)
    assmat.get_by_role("link", name="Agrément", exact=True).click()
    assmat.wait_for_url("**/espace-pro/agrement")
    assert "Historique de l'agrément" in assmat.content() and holder["pmi_number"] in assmat.content()
    shot(assmat, "agrement-tab")

    assmat.get_by_role("link", name="Signaler un changement").click()
    assmat.wait_for_url("**/espace-pro/signalements")
    assmat.get_by_role("radio", name="Déménagement").check()
    # Too close: R421-41's 15 days are told beside the date, and what was typed stays.
    soon = dt.date.today() + dt.timedelta(days=5)
    assmat.locator("#moving_date").fill(str(soon.day))
    assmat.locator("#moving_date-month").fill(str(soon.month))
    assmat.locator("#moving_date-year").fill(str(soon.year))
    assmat.get_by_label("Nouvelle adresse").fill("3 rue des Lilas")
    assmat.get_by_label("Code postal", exact=True).fill("28000")
    assmat.get_by_label("Commune", exact=True).fill("Chartres")
    assmat.get_by_role("button", name="Envoyer le signalement").click()
    assmat.wait_for_load_state()
    assert "R421-41" in assmat.locator("#moving_date-error").inner_text()
    assert assmat.get_by_label("Nouvelle adresse").input_value() == "3 rue des Lilas"
    shot(assmat, "report-refused-15-days")

    later = dt.date.today() + dt.timedelta(days=30)
    assmat.get_by_role("radio", name="Déménagement").check()
    assmat.locator("#moving_date").fill(str(later.day))
    assmat.locator("#moving_date-month").fill(str(later.month))
    assmat.locator("#moving_date-year").fill(str(later.year))
    assmat.locator("#attachments").set_input_files(files=[{
        "name": "bail.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n%%EOF\n"}])
    assmat.get_by_role("button", name="Envoyer le signalement").click()
    assmat.wait_for_load_state()
    assert "Votre signalement est envoyé" in assmat.content()
    assert assmat.locator("table").get_by_text("Déménagement").count() == 1
    shot(assmat, "report-sent")

    agent = chromium.new_context(locale="fr-FR").new_page()
    staff_login(portal, agent, chartres)
    agent.get_by_role("link", name="Signalements", exact=True).first.click()
    agent.wait_for_url("**/espace-pmi/signalements")
    row = agent.locator("tr", has_text=holder["pmi_number"])
    assert row.count() == 1 and "Déménagement" in row.inner_text()
    shot(agent, "backoffice-reports-chartres")
    row.get_by_role("link").click()
    agent.wait_for_load_state()
    assert "3 rue des Lilas" in agent.content() and "bail.pdf" in agent.content()
    agent.get_by_label("Prendre en charge").check()
    agent.get_by_role("button", name="Enregistrer").click()
    agent.wait_for_load_state()
    assert "En cours de traitement" in agent.content()
    shot(agent, "backoffice-report-in-progress")

    other = chromium.new_context(locale="fr-FR").new_page()
    staff_login(portal, other, dreux)
    other.goto(portal.base_url + "/espace-pmi/signalements")
    assert other.locator("tr", has_text=holder["pmi_number"]).count() == 0
    shot(other, "backoffice-reports-dreux")
    report_path = urlsplit(agent.url).path
    assert other.goto(portal.base_url + report_path).status == 404

    # The assmat sees the new step in her list.
    assmat.reload()
    assert "En cours de traitement" in assmat.locator("table").inner_text()
    for page in (assmat, agent, other):
        page.context.close()
