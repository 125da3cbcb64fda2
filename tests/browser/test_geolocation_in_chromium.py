"""A geolocation correction in Chromium, on the whole portal (issue 9): an assmat activates her space, opens
"Géolocalisation", pastes a map link of adresse.data.gouv.fr centred near her home; a support agent (password and
TOTP) sees the proposal beside the current pin on the review page and accepts it; the assmat's pin has moved.
Screenshots in test-artifacts/."""
from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from identity.staff.domain import totp
from services.communes import get_commune
from services.testing import eventually
from tests.browser.conftest import shot
from tests.e2e.portal import write_demo_extract

pytestmark = pytest.mark.browser
PASSWORD = "une phrase pour corriger la carte"


@pytest.fixture(scope="module")
def assmat(portal, tmp_path_factory):
    extract = tmp_path_factory.mktemp("geoloc") / "demo.csv"
    rows = write_demo_extract(portal, extract, count=5, seed=19, first_pmi_number=360000, name_tag="-GEO")
    result = portal.run_import(extract)
    assert result.returncode == 0, result.stderr
    return next(r for r in rows[1:] if r["status"] == "active")


def solve_captcha_if_shown(page, portal) -> None:
    if page.locator("input[name=captcha_id]").count():
        challenge = page.locator("input[name=captcha_id]").get_attribute("value")
        page.get_by_label("Caractères de l'image").fill(portal.captcha_answer(challenge))


def activate_and_log_in(page, portal, row) -> None:
    year, month, day = row["birth_date"].split("-")
    email = f"geoloc.{row['pmi_number']}@example.org"
    portal.wait_for_holder(row["pmi_number"])
    page.goto(portal.base_url + "/espace-pro/activation")
    page.get_by_label("Numéro de dossier PMI").fill(row["pmi_number"])
    page.get_by_label("Jour").fill(day)
    page.get_by_label("Mois").fill(month)
    page.get_by_label("Année").fill(year)
    solve_captcha_if_shown(page, portal)
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url("**/espace-pro/activation/compte")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_label("Confirmez le mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Créer mon compte").click()
    page.wait_for_url("**/courriel-envoye")
    eventually(lambda: portal.mails_to(email), timeout=30, message="no activation mail")
    page.goto(portal.base_url + "/dev/mails")
    page.locator("tr", has_text=email).get_by_role("link").first.click()
    page.locator("a[href*='/espace-pro/activation/confirmer']").first.click()
    page.wait_for_load_state()
    for _ in range(2):   # the captcha may be asked (failures from this address in other tests)
        page.goto(portal.base_url + "/espace-pro/connexion")
        page.get_by_label("Numéro de dossier PMI").fill(row["pmi_number"])
        page.get_by_label("Mot de passe").fill(PASSWORD)
        solve_captcha_if_shown(page, portal)
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_load_state()
        if not page.url.split("?")[0].endswith("/connexion"):
            break
    page.wait_for_url("**/espace-pro")


def support_logs_in(page, portal) -> None:
    email = f"support.{uuid.uuid4().hex[:8]}@cd28.example.org"
    created = subprocess.run([sys.executable, "-m", "identity", "staff", "create", "--email", email, "--name",
                              "Sam Support", "--role", "support"], env=portal.env, capture_output=True, text=True,
                             timeout=60)
    assert created.returncode == 0, created.stderr
    secret = parse_qs(urlsplit(re.search(r"otpauth://\S+", created.stdout).group(0)).query)["secret"][0]
    link = re.search(r"https?://\S+jeton=\S+", created.stdout).group(0)
    page.goto(link.replace("http://127.0.0.1:8000", portal.base_url))
    page.get_by_label("Nouveau mot de passe").fill(PASSWORD)
    page.get_by_label("Confirmez le mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Enregistrer le mot de passe").click()
    page.wait_for_load_state()
    while time.time() % 30 > 25:   # stay clear of a TOTP step boundary
        time.sleep(1)
    page.goto(portal.base_url + "/espace-pmi/connexion")
    page.get_by_label("Adresse e-mail professionnelle").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_label("Code de vérification").fill(totp(secret, dt.datetime.now(dt.timezone.utc)))
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/espace-pmi")


def test_a_correction_from_the_assmats_link_to_supports_acceptance_moves_the_pin(portal, chromium, assmat):
    commune = get_commune(assmat["commune_insee"])
    lat, lon = round(commune.latitude + 0.0021, 5), round(commune.longitude - 0.0032, 5)
    pro = chromium.new_page(locale="fr-FR")
    activate_and_log_in(pro, portal, assmat)

    def located() -> bool:
        pro.goto(portal.base_url + "/espace-pro/geolocalisation")
        return pro.locator("[data-pin]").count() == 1
    eventually(located, timeout=30, message="geo-svc has not located the place")
    before = pro.locator("[data-pin]").inner_text()
    # A link from another site first: refused next to the field, the link kept.
    pro.get_by_label("Lien de la carte centrée sur votre lieu d'accueil").fill(
        f"https://www.google.com/maps/@{lat},{lon},18z")
    pro.get_by_role("button", name="Envoyer la demande").click()
    assert "Seuls les liens de la carte de adresse.data.gouv.fr" in pro.locator("#link-error").inner_text()
    shot(pro, "geolocation-refused-link")
    # The link as people paste it: parameters in another order, spaces around.
    pro.get_by_label("Lien de la carte centrée sur votre lieu d'accueil").fill(
        f"  https://adresse.data.gouv.fr/map?z=18&lat={lat}&lng={lon}  ")
    pro.get_by_label("Précision pour le support (facultatif)").fill("L'entrée est derrière la boulangerie.")
    pro.get_by_role("button", name="Envoyer la demande").click()
    pro.wait_for_url("**/espace-pro/geolocalisation")
    assert "Votre demande de correction est enregistrée" in pro.content()
    assert pro.locator("[data-corrections] [data-status=pending]").count() == 1
    shot(pro, "geolocation-requested")

    staff = chromium.new_page(locale="fr-FR")
    support_logs_in(staff, portal)
    staff.goto(portal.base_url + "/espace-pmi/geolocalisation")
    row = staff.locator("tr", has_text=assmat["pmi_number"]).filter(has=staff.get_by_role("link", name="Examiner"))
    row.get_by_role("link", name="Examiner").click()
    staff.wait_for_load_state()
    assert staff.locator("svg[data-geo-map] [data-marker=proposal]").count() == 1
    assert staff.locator("svg[data-geo-map] [data-marker=current]").count() == 1
    assert f"{lat:.5f}, {lon:.5f}" in staff.locator("[data-proposal]").inner_text()
    assert "derrière la boulangerie" in staff.content()
    shot(staff, "geolocation-support-review")
    staff.get_by_label("Accepter : le repère est déplacé à la position proposée").check()
    staff.get_by_role("button", name="Enregistrer la décision").click()
    staff.wait_for_url("**/espace-pmi/geolocalisation")
    assert "Demande acceptée" in staff.content()

    pro.goto(portal.base_url + "/espace-pro/geolocalisation")
    after = pro.locator("[data-pin]").inner_text()
    assert after != before and after.strip() == f"{lat:.5f}, {lon:.5f}"
    assert "position corrigée par le support" in pro.content()
    assert pro.locator("[data-corrections] [data-status=accepted]").count() == 1
    shot(pro, "geolocation-moved-pin")
    staff.close()
    pro.close()
