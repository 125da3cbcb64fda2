"""A MAM's first password in Chromium: the structures extract gives it an account without a password; "mot de passe
oublié" with the MAM account type mails a link (read in the sink); the link sets the password; the MAM logs in
with its e-mail. Screenshots in test-artifacts/."""
from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from services.testing import eventually
from tests.browser.conftest import shot

pytestmark = pytest.mark.browser
PASSWORD = "la phrase de passe de notre mam"
HEADER = "type;structure_id;name;email;phone;address_line;postcode;commune_insee;communes;opening_hours;status"


@pytest.fixture(scope="module")
def mam(portal, tmp_path_factory):
    """A MAM of this module's own (its id and address unique to the run), imported through the real command."""
    tag = uuid.uuid4().hex[:8]
    structure = {"id": f"MAM-NAV-{tag}", "name": f"MAM Les Navigateurs {tag}",
                 "email": f"mam.navigateur.{tag}@example.org"}
    path = tmp_path_factory.mktemp("structures") / "structures.csv"
    path.write_text(f"{HEADER}\nMAM;{structure['id']};{structure['name']};{structure['email']};;"
                    f"8 rue Noël Ballay;28000;28085;;;open\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "agrement", "import-structures", str(path)], env=portal.env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return structure


def test_a_mam_sets_its_first_password_by_reset_then_logs_in_with_its_email(portal, chromium, mam):
    page = chromium.new_page(locale="fr-FR")

    def ask_for_the_link() -> bool:
        # The account appears once identity's worker has the structure.registered event: ask until a mail comes.
        page.goto(portal.base_url + "/espace-pro/connexion")
        page.get_by_role("link", name="Mot de passe oublié ?").first.click()
        page.get_by_label("Adresse e-mail").fill(mam["email"])
        page.get_by_label("Maison d'assistants maternels (MAM)").check()
        page.get_by_role("button", name="Recevoir le lien").click()
        page.wait_for_url("**/mot-de-passe-oublie/envoye")
        try:
            eventually(lambda: portal.mails_to(mam["email"]), timeout=8, message="no mail yet")
        except AssertionError:
            return False
        return True

    eventually(ask_for_the_link, timeout=60, message="no password link for the MAM")
    shot(page, "reset-mail-sent")
    page.goto(portal.base_url + "/dev/mails")
    page.locator("tr", has_text=mam["email"]).get_by_role("link").first.click()
    link = page.locator("a[href*='/espace-pro/mot-de-passe-oublie/nouveau']").first
    assert "Choisissez" in page.content() or link.count()
    link.click()
    page.wait_for_load_state()
    assert mam["name"] in page.content()
    page.get_by_label("Nouveau mot de passe").fill(PASSWORD)
    page.get_by_label("Confirmez le mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Enregistrer le mot de passe").click()
    page.wait_for_load_state()
    assert "Votre mot de passe est enregistré" in page.content()
    shot(page, "reset-done")
    # The owner is told; no mail carries the password.
    eventually(lambda: len(portal.mails_to(mam["email"])) >= 2, timeout=30, message="no 'mot de passe changé' mail")
    assert all(PASSWORD not in str(mail) for mail in portal.mails_to(mam["email"]))

    page.get_by_role("link", name="Se connecter").click()
    page.get_by_label("Numéro de dossier PMI ou adresse e-mail").fill(mam["email"])
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/espace-pro")
    assert mam["name"] in page.content()
    shot(page, "espace-pro-mam")
    page.close()
