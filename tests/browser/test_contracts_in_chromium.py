"""The Contrats and Vos propres enfants tabs in Chromium, on the whole portal: an assmat declares a late arrival
(R421-39 flag), registers her own child, reads her week, fills her places and is warned by the capacity engine
before a child too many (L421-4), confirms it, and the declaration is flagged. Screenshots in test-artifacts/.

The back office half (an agent of the assmat's circonscription sees the declaration, one of another does not) is
tests/browser/test_backoffice_in_chromium.py; agrement-svc's scoping is tested in
agrement-svc/tests/api/test_contracts_api.py."""
from __future__ import annotations

import datetime as dt

import pytest

from tests.browser.conftest import activate_holder, assmat_login, declare_arrival, shot
from tests.e2e.portal import write_demo_extract

pytestmark = pytest.mark.browser
PASSWORD = "le chat dort sur la fenêtre bleue"  # clear of the e-mail's words (password policy)


@pytest.fixture(scope="module")
def assmat(portal, tmp_path_factory):
    extract = tmp_path_factory.mktemp("contracts") / "demo.csv"
    rows = write_demo_extract(portal, extract, count=6, seed=21, first_pmi_number=345000, name_tag="-CTR")
    assert portal.run_import(extract).returncode == 0
    return next(r for r in rows[1:] if r["status"] == "active")


def test_an_assmat_declares_contracts_and_is_warned_before_a_child_too_many(portal, chromium, assmat):
    page = chromium.new_page(locale="fr-FR")
    activate_holder(portal, assmat, PASSWORD)
    assmat_login(portal, page, assmat["pmi_number"], PASSWORD)
    today = dt.date.today()
    pupil = today.replace(year=today.year - 6, day=1)

    page.get_by_role("link", name="Contrats").click()
    assert "dans les 8 jours" in page.content()
    declare_arrival(page, portal, "Léa", pupil, today - dt.timedelta(days=20))
    assert "/espace-pro/contrats/" in page.url
    assert "après le délai de 8 jours" in page.content()
    shot(page, "contract-declared-late")
    page.goto(portal.base_url + "/espace-pro/contrats")
    assert "Léa" in page.content() and "Déclaré hors délai" in page.content()

    page.get_by_role("link", name="Vos propres enfants").click()
    page.get_by_label("Prénom").fill("Tom")
    page.get_by_label("Date de naissance").fill(today.replace(year=today.year - 1, day=1).isoformat())
    page.get_by_role("button", name="Ajouter").click()
    page.wait_for_load_state()
    assert "compte parmi les moins de 3 ans" in page.content()
    shot(page, "own-children")

    places = int(assmat["capacity_total"])
    for n in range(places - 1):
        declare_arrival(page, portal, f"Enfant{'abcd'[n]}", pupil, today)
        assert "/contrats/nouveau" not in page.url, page.content()
    declare_arrival(page, portal, "Zoé", pupil, today)
    assert "dépasse votre capacité d'accueil" in page.content()
    assert f"pour {places} places d'agrément" in page.content()
    shot(page, "capacity-warning")
    assert page.get_by_label("Prénom de l'enfant").input_value() == "Zoé"   # what was typed is kept
    page.get_by_label("Je confirme cette déclaration malgré le dépassement").check()
    page.get_by_role("button", name="Déclarer l'arrivée").click()
    page.wait_for_load_state()
    assert "votre circonscription de PMI en est informée" in page.content()

    page.goto(portal.base_url + "/espace-pro/contrats/semaine")
    assert "Ma semaine d'accueil" in page.content()
    page.get_by_role("link", name="Semaine suivante").click()   # every contract has started by next Monday
    page.wait_for_load_state()
    assert f"{places + 1} enfants accueillis pour {places} places d'agrément" in page.content()
    shot(page, "capacity-week")
    page.close()
