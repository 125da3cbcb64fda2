"""A geolocation correction in Chromium, on the whole portal (issue 9): an assmat activates her space, opens
"Géolocalisation", pastes a map link of adresse.data.gouv.fr centred near her home; a support agent (password and
TOTP) sees the proposal beside the current pin on the review page and accepts it; the assmat's pin has moved.
Screenshots in test-artifacts/."""
from __future__ import annotations


import pytest

from services.communes import get_commune
from services.testing import eventually
from tests.browser.conftest import activate_holder, assmat_login, shot, staff_account, staff_login
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


def support_logs_in(page, portal) -> None:
    staff_login(portal, page, staff_account(portal, role="support"))


def test_a_correction_from_the_assmats_link_to_supports_acceptance_moves_the_pin(portal, chromium, assmat):
    commune = get_commune(assmat["commune_insee"])
    lat, lon = round(commune.latitude + 0.0021, 5), round(commune.longitude - 0.0032, 5)
    pro = chromium.new_page(locale="fr-FR")
    activate_holder(portal, assmat, PASSWORD)
    assmat_login(portal, pro, assmat["pmi_number"], PASSWORD)

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
