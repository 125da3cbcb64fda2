"""FranceConnect in Debian's Chromium against the development provider started with the portal: an assmat without
e-mail activates her space with FranceConnect (compound birth name), logs out (FranceConnect's session ends too) and
logs in again with FranceConnect; one born abroad (birth date known by its year) activates too; an identity linked
to nobody is told to activate first. Screenshots go to test-artifacts/."""
from __future__ import annotations

import pytest

from tests.browser.conftest import shot
from tests.e2e.portal import write_demo_extract

pytestmark = pytest.mark.browser
FIRST_PMI_NUMBER = 340000


@pytest.fixture(scope="module")
def fc_rows(portal, tmp_path_factory):
    # The demo's first three rows are the agréments the provider's identities match (280001-280003), renumbered.
    extract = tmp_path_factory.mktemp("browser-fc") / "demo.csv"
    rows = write_demo_extract(portal, extract, count=5, seed=3, first_pmi_number=FIRST_PMI_NUMBER)
    assert [row["last_name"] for row in rows[:3]] == ["DUPONT", "MARTIN", "EL AMRANI"]
    result = portal.run_import(extract)
    assert result.returncode == 0, result.stderr
    return rows


def pass_step_one(page, portal, row) -> None:
    """Step 1 once identity knows the agrément (trying earlier would count as failures and lock the number), with
    the captcha solved through the test-only hook."""
    portal.wait_for_holder(row["pmi_number"])
    year, month, day = row["birth_date"].split("-")
    page.goto(portal.base_url + "/espace-pro/activation")
    page.get_by_label("Numéro de dossier PMI").fill(row["pmi_number"])
    page.get_by_label("Jour").fill(day)
    page.get_by_label("Mois").fill(month)
    page.get_by_label("Année").fill(year)
    challenge = page.locator("input[name=captcha_id]").get_attribute("value")
    page.get_by_label("Caractères de l'image").fill(portal.captcha_answer(challenge))
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url("**/espace-pro/activation/compte")


def pick_identity(page, label_start: str) -> None:
    page.wait_for_url("**/api/v2/authorize**")
    assert "Outil de développement" in page.content()
    page.get_by_role("button", name=label_start).click()


def test_an_assmat_without_email_activates_logs_out_and_logs_in_with_franceconnect(portal, chromium, fc_rows):
    helene = fc_rows[1]
    page = chromium.new_page(locale="fr-FR")
    pass_step_one(page, portal, helene)
    page.get_by_role("link", name="S'identifier avec FranceConnect").click()
    pick_identity(page, "Hélène LE GALL MARECHAL")
    page.wait_for_url("**/espace-pro")
    content = page.content()
    assert "relié à FranceConnect" in content and "MARTIN" in content
    shot(page, "franceconnect-activated")

    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url(portal.base_url + "/")  # through FranceConnect's end-session and back, state checked
    assert "déconnecté·e du portail et de FranceConnect" in page.content()
    page.goto(portal.base_url + "/espace-pro")
    assert "/espace-pro/connexion" in page.url

    page.get_by_role("link", name="S'identifier avec FranceConnect").click()
    pick_identity(page, "Hélène LE GALL MARECHAL")
    page.wait_for_url("**/espace-pro")
    assert "MARTIN" in page.content()
    shot(page, "franceconnect-login-without-email")
    page.close()


def test_an_assmat_born_abroad_activates_with_a_birth_date_known_by_its_year(portal, chromium, fc_rows):
    amina = fc_rows[2]
    assert amina["birth_date"] == "1978-01-01"
    page = chromium.new_page(locale="fr-FR")
    pass_step_one(page, portal, amina)
    page.get_by_role("link", name="S'identifier avec FranceConnect").click()
    pick_identity(page, "Amina EL AMRANI")
    page.wait_for_url("**/espace-pro")
    assert "relié à FranceConnect" in page.content()
    page.close()


def test_someone_else_cannot_activate_and_an_unlinked_identity_is_told_to_activate(portal, chromium, fc_rows):
    page = chromium.new_page(locale="fr-FR")
    pass_step_one(page, portal, fc_rows[0])
    page.get_by_role("link", name="S'identifier avec FranceConnect").click()
    pick_identity(page, "Jean INCONNU")
    page.wait_for_load_state()
    assert "Identité non reconnue" in page.content()
    shot(page, "franceconnect-identity-mismatch")

    page.goto(portal.base_url + "/espace-pro/connexion")
    shot(page, "franceconnect-login-page")
    page.get_by_role("link", name="S'identifier avec FranceConnect").click()
    pick_identity(page, "Jean INCONNU")
    page.wait_for_load_state()
    assert "Activez d'abord votre compte" in page.content()
    page.close()
