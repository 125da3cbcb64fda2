"""The portal in Debian's Chromium (Playwright drives /usr/bin/chromium; it cannot download a browser here):
a parent searches by commune on a phone-sized screen; an assmat activates her space, reads the mail in the sink,
follows the link and logs in. Screenshots are kept in test-artifacts/ to look at."""
from __future__ import annotations


import pytest

from tests.browser.conftest import shot

from services.communes import get_commune
from services.testing import eventually
from tests.e2e.portal import write_demo_extract

pytestmark = pytest.mark.browser
PASSWORD = "une phrase secrète dans Chromium"


@pytest.fixture(scope="module")
def imported_rows(portal, tmp_path_factory):
    extract = tmp_path_factory.mktemp("browser") / "demo.csv"
    rows = write_demo_extract(portal, extract, count=40, seed=11, first_pmi_number=330000, name_tag="-NAV")
    result = portal.run_import(extract)
    assert result.returncode == 0, result.stderr
    return rows


def visible(row: dict) -> bool:
    return row["status"] == "active" and row["publication_opposed"] != "1"


def test_a_parent_finds_assmats_of_a_commune_on_a_phone(portal, chromium, imported_rows):
    # A commune outside the big towns, so that the first page shows all of this module's fiches there.
    commune = get_commune(next(row["commune_insee"] for row in imported_rows[1:]
                               if visible(row) and row["commune_insee"] not in ("28085", "28134")))
    expected = {f"{row['first_name']} {row['last_name']}" for row in imported_rows
                if row["commune_insee"] == commune.insee_code and visible(row)}
    page = chromium.new_page(viewport={"width": 390, "height": 844}, locale="fr-FR")
    page.goto(portal.base_url + "/")
    assert page.locator("html").get_attribute("lang") == "fr"
    page.get_by_label("Commune ou code postal").first.fill(commune.name)
    page.get_by_role("button", name="Rechercher").first.click()
    page.wait_for_url("**/recherche**")

    def listed() -> set[str]:
        page.reload()
        return {name for name in expected if page.get_by_text(name).count()}

    eventually(lambda: listed() == expected, timeout=30, message=f"assmats of {commune.name} not all listed")
    assert commune.name in page.locator("h1").inner_text()
    # Nothing wider than the phone: no horizontal scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "search-phone")
    page.close()


def test_an_assmat_activates_her_space_from_the_mail_and_logs_in(portal, chromium, imported_rows):
    row = next(r for r in imported_rows[1:] if r["status"] == "active")
    year, month, day = row["birth_date"].split("-")
    email = f"navigateur.{row['pmi_number']}@example.org"
    page = chromium.new_page(locale="fr-FR")

    portal.wait_for_holder(row["pmi_number"])
    page.goto(portal.base_url + "/espace-pro/activation")
    page.get_by_label("Numéro de dossier PMI").fill(row["pmi_number"])
    page.get_by_label("Jour").fill(day)
    page.get_by_label("Mois").fill(month)
    page.get_by_label("Année").fill(year)
    # The captcha: its image is drawn, its sound offered; "Nouvelle image" gives another and keeps the fields.
    first = page.locator("input[name=captcha_id]").get_attribute("value")
    page.get_by_role("button", name="Nouvelle image").click()
    page.wait_for_load_state()
    challenge = page.locator("input[name=captcha_id]").get_attribute("value")
    assert challenge != first and page.get_by_label("Numéro de dossier PMI").input_value() == row["pmi_number"]
    assert page.locator("img.captcha__image").evaluate("image => image.complete && image.naturalWidth") == 220
    assert page.locator("audio.captcha__audio").get_attribute("src") == f"/captcha/{challenge}.wav"
    shot(page, "activation-captcha")
    page.get_by_label("Caractères de l'image").fill(portal.captcha_answer(challenge).lower())
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url("**/espace-pro/activation/compte")
    shot(page, "activation-step-2")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_label("Confirmez le mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Créer mon compte").click()
    page.wait_for_url("**/courriel-envoye")
    shot(page, "activation-mail-sent")

    eventually(lambda: portal.mails_to(email), timeout=30, message="no mail in the sink")
    page.goto(portal.base_url + "/dev/mails")
    page.locator("tr", has_text=email).get_by_role("link").first.click()
    page.locator("a[href*='/espace-pro/activation/confirmer']").first.click()
    page.wait_for_load_state()
    assert "activé" in page.content()
    shot(page, "activation-confirmed")

    page.goto(portal.base_url + "/espace-pro/connexion")
    page.get_by_label("Numéro de dossier PMI").fill(row["pmi_number"])
    page.get_by_label("Mot de passe").fill(PASSWORD)
    if page.locator("input[name=captcha_id]").count():  # shown after failed logins from this address
        challenge = page.locator("input[name=captcha_id]").get_attribute("value")
        page.get_by_label("Caractères de l'image").fill(portal.captcha_answer(challenge))
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()
    if "/connexion" in page.url and page.locator("input[name=captcha_id]").count():
        # identity asked for the captcha (failures from this address in other tests): the page shows it now.
        page.get_by_label("Mot de passe").fill(PASSWORD)
        challenge = page.locator("input[name=captcha_id]").get_attribute("value")
        page.get_by_label("Caractères de l'image").fill(portal.captcha_answer(challenge))
        page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/espace-pro")
    assert row["last_name"] in page.content()
    shot(page, "espace-pro-agrement")
    page.close()
