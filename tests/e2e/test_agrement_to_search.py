"""The PMI's extract reaches the public search: agrement-svc → (events) → geo-svc → fiche-svc → gateway."""
from __future__ import annotations

import csv
import datetime as dt

import pytest
import requests

from services.testing import eventually
from tests.e2e.portal import write_demo_extract

CHARTRES = "28085"


def write_extract(path, rows: list[dict], header: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, delimiter=";")
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def demo_extract(portal, tmp_path_factory):
    """A small demo extract of the département's format, imported once for this module."""
    folder = tmp_path_factory.mktemp("extract")
    path = folder / "extract.csv"
    rows = write_demo_extract(portal, path, count=60, seed=28, first_pmi_number=310000, name_tag="-RECH")
    result = portal.run_import(path)
    assert result.returncode == 0, result.stderr
    return folder, list(rows[0]), rows


def search(portal, **params) -> dict:
    response = requests.get(portal.base_url + "/api/v1/fiches", params={"per_page": 50, **params}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def visible_in_chartres(rows) -> list[dict]:
    today = dt.date.today().isoformat()  # the agrément must be in force (the demo's dates are fixed)
    return [row for row in rows if row["commune_insee"] == CHARTRES and row["status"] == "active"
            and row["publication_opposed"] in ("", "0") and row["validity_start"] <= today <= row["validity_end"]]


def names(result: dict) -> set[tuple[str, str]]:
    return {(fiche["first_name"], fiche["last_name"]) for fiche in result["fiches"]}


def test_imported_agrements_become_searchable_fiches(portal, demo_extract):
    _folder, _header, rows = demo_extract
    expected = {(row["first_name"], row["last_name"]) for row in visible_in_chartres(rows)}
    assert expected, "the demo extract must place active assmats in Chartres"
    # Other tests of the run publish in Chartres too: this module's fiches must all be there.
    result = eventually(lambda: (r := search(portal, commune=CHARTRES)) and expected <= names(r) and r,
                        message="fiches of Chartres did not appear")
    by_name = search(portal, q="chartres")
    assert names(by_name) == names(result) and by_name["total"] == result["total"]
    assert all(fiche["commune"]["name"] == "Chartres" for fiche in by_name["fiches"])


def test_opposed_and_withdrawn_agrements_are_not_published(portal, demo_extract):
    _folder, _header, rows = demo_extract
    hidden = [row for row in rows if row["publication_opposed"] == "1" or row["status"] in ("withdrawn", "suspended")]
    assert hidden, "the demo extract must contain opposed or ended agréments"
    eventually(lambda: search(portal, commune=CHARTRES)["total"] > 0)
    for row in hidden:
        found = search(portal, commune=row["commune_insee"])
        assert (row["first_name"], row["last_name"]) not in names(found)


def test_same_extract_twice_changes_nothing(portal, demo_extract):
    folder, header, rows = demo_extract
    again = folder / "again.csv"
    write_extract(again, rows, header)
    result = portal.run_import(again)
    assert result.returncode == 0, result.stderr
    assert f"{len(rows)} lignes lues : 0 nouveaux agréments, 0 modifiés, 0 retirés ou suspendus, " \
           f"{len(rows)} inchangés, 0 rejetées." in result.stdout


def test_changed_row_updates_the_fiche_and_withdrawal_removes_it(portal, demo_extract):
    folder, header, rows = demo_extract
    target = visible_in_chartres(rows)[0]
    eventually(lambda: (target["first_name"], target["last_name"]) in names(search(portal, commune=CHARTRES)))

    renamed = [dict(row, last_name="RENOMMÉE") if row is target else row for row in rows]
    write_extract(folder / "renamed.csv", renamed, header)
    result = portal.run_import(folder / "renamed.csv")
    assert result.returncode == 0 and "1 modifiés" in result.stdout, result.stdout + result.stderr
    eventually(lambda: (target["first_name"], "RENOMMÉE") in names(search(portal, commune=CHARTRES)),
               timeout=15, message="the modified name did not reach the search")
    assert (target["first_name"], target["last_name"]) not in names(search(portal, commune=CHARTRES))

    withdrawn = [dict(row, status="withdrawn") if row["pmi_number"] == target["pmi_number"] else row
                 for row in renamed]
    write_extract(folder / "withdrawn.csv", withdrawn, header)
    result = portal.run_import(folder / "withdrawn.csv")
    assert result.returncode == 0 and "1 retirés ou suspendus" in result.stdout, result.stdout
    eventually(lambda: (target["first_name"], "RENOMMÉE") not in names(search(portal, commune=CHARTRES)),
               timeout=15, message="the withdrawn agrément is still searchable")


def test_bad_rows_are_rejected_with_line_and_reason_and_the_rest_applies(portal, demo_extract):
    folder, header, rows = demo_extract
    good = dict(rows[0], pmi_number="319990", last_name="VALIDE")
    bad_rows = [
        dict(rows[0], pmi_number="12345"),                               # line 3: not 6 digits
        dict(rows[0], pmi_number="319991", commune_insee="99999"),       # line 4: unknown commune
        dict(rows[0], pmi_number="319992", birth_date="1980-02-31"),     # line 5: impossible date
        dict(rows[0], pmi_number="319993", capacity_total="-1"),         # line 6: negative capacity
        dict(good),                                                      # line 7: duplicate of line 2
    ]
    write_extract(folder / "bad.csv", [good, *bad_rows], header)
    result = portal.run_import(folder / "bad.csv")
    assert result.returncode == 1
    assert "1 nouveaux agréments" in result.stdout and "5 rejetées" in result.stdout
    report = result.stderr
    for line in ("ligne 3", "ligne 4", "ligne 5", "ligne 6", "ligne 7"):
        assert line in report, report
    assert "99999" in report and "ligne 2" in report.split("ligne 7", 1)[1]
