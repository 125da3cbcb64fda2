"""Issue 7's "Must show" in Chromium, every service on the real servers: an assmat declares a child's arrival (late,
R421-39) and reports a change of situation; the agent of her circonscription finds both in the back office
(Signalements, Déclarations signalées), the agent of another circonscription finds neither and gets "not found" on
the report's and the agrément's pages. Screenshots in test-artifacts/."""
from __future__ import annotations

import datetime as dt
import time
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import (activate_holder, assmat_login, declare_arrival, shot, staff_account,
                                    staff_login)
from tests.e2e.portal import write_demo_extract

pytestmark = pytest.mark.browser
PASSWORD = "une phrase de passe pour le back-office"
FIRST_PMI_NUMBER = 380000   # this module's own range (the portal is shared by the run's tests)
CHILD = "Anouk"
HOUSEHOLD_NOTE = "Mon conjoint travaille désormais à domicile."


@pytest.fixture(scope="module")
def holder(portal, tmp_path_factory):
    """The demo's Marie DUPONT (Chartres) renumbered into this module's range, imported and activated."""
    extract = tmp_path_factory.mktemp("backoffice") / "demo.csv"
    row = write_demo_extract(portal, extract, count=5, seed=11, first_pmi_number=FIRST_PMI_NUMBER, name_tag="-BO")[0]
    assert (row["circonscription"], row["status"]) == ("Chartres", "active")
    assert portal.run_import(extract).returncode == 0
    activate_holder(portal, row, PASSWORD)
    return row


def rows_of(page, path: str, pmi_number: str, wanted: int, timeout: float = 20.0):
    """The rows of a back-office list naming this assmat, reloaded until `wanted` are there (or the time is up)."""
    deadline = time.monotonic() + timeout
    while True:
        page.goto(page.url.split("/espace-pmi")[0] + path)
        rows = page.locator("tr", has_text=pmi_number)
        if rows.count() >= wanted or time.monotonic() > deadline:
            return rows
        time.sleep(1)


def test_a_contract_and_a_report_reach_the_agent_of_her_circonscription_and_no_other(portal, chromium, holder):
    pmi_number = holder["pmi_number"]
    chartres, dreux = staff_account(portal, "Chartres"), staff_account(portal, "Dreux")

    assmat = chromium.new_context(locale="fr-FR").new_page()
    assmat_login(portal, assmat, pmi_number, PASSWORD)
    today = dt.date.today()
    declare_arrival(assmat, portal, CHILD, today.replace(year=today.year - 5, day=1), today - dt.timedelta(days=20))
    assert "après le délai de 8 jours" in assmat.content()   # R421-39: a late declaration is flagged
    shot(assmat, "backoffice-contract-declared")

    assmat.get_by_role("link", name="Signaler un changement").click()
    assmat.wait_for_url("**/espace-pro/signalements")
    assmat.get_by_role("radio", name="Changement dans le foyer").check()
    assmat.get_by_label("Précisions").fill(HOUSEHOLD_NOTE)
    assmat.get_by_role("button", name="Envoyer le signalement").click()
    assmat.wait_for_load_state()
    assert "Votre signalement est envoyé" in assmat.content()
    shot(assmat, "backoffice-report-sent")

    # The agent of Chartres: her home links to both lists, and both name the assmat.
    agent = chromium.new_context(locale="fr-FR").new_page()
    staff_login(portal, agent, chartres)
    menu = agent.get_by_role("navigation", name="Rubriques de l'espace PMI")
    assert menu.get_by_role("link", name="Déclarations signalées").count() == 1
    assert menu.get_by_role("link", name="Géolocalisation").count() == 0   # support's page, not an agent's
    shot(agent, "backoffice-chartres-home")
    agent.get_by_role("link", name="Signalements", exact=True).first.click()
    agent.wait_for_url("**/espace-pmi/signalements")
    reports = rows_of(agent, "/espace-pmi/signalements", pmi_number, 1)
    assert reports.count() == 1 and "Changement dans le foyer" in reports.inner_text()
    shot(agent, "backoffice-chartres-reports")
    reports.get_by_role("link").first.click()
    agent.wait_for_load_state()
    assert HOUSEHOLD_NOTE in agent.content()
    report_path = urlsplit(agent.url).path
    assert report_path.startswith("/espace-pmi/signalements/")

    agent.goto(portal.base_url + "/espace-pmi")
    agent.get_by_role("link", name="Déclarations signalées").first.click()
    agent.wait_for_url("**/espace-pmi/declarations")
    declarations = rows_of(agent, "/espace-pmi/declarations", pmi_number, 1)
    assert declarations.count() == 1, agent.content()[:2000]
    flagged = declarations.inner_text()
    assert "Déclaration tardive (plus de 8 jours, R421-39)" in flagged
    assert f"Déclaration d'arrivée du {today - dt.timedelta(days=20)}" in flagged, flagged
    shot(agent, "backoffice-chartres-declarations")

    # The agent of Dreux: neither list names her, and her report and agrément are "not found".
    other = chromium.new_context(locale="fr-FR").new_page()
    staff_login(portal, other, dreux)
    other.goto(portal.base_url + "/espace-pmi/signalements")
    assert other.locator("tr", has_text=pmi_number).count() == 0
    shot(other, "backoffice-dreux-reports")
    other.goto(portal.base_url + "/espace-pmi/declarations")
    assert other.locator("tr", has_text=pmi_number).count() == 0
    assert pmi_number not in other.content()
    shot(other, "backoffice-dreux-declarations")
    assert other.goto(portal.base_url + report_path).status == 404
    assert other.goto(portal.base_url + f"/espace-pmi/agrements/{pmi_number}").status == 404
    for page in (assmat, agent, other):
        page.context.close()
