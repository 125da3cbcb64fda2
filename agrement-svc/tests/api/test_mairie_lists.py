"""The lists for mairies (CASF L421-8): who is on a commune's list, its CSV, and its PDF rendered to an image."""
from __future__ import annotations

import csv
import io

import pypdfium2 as pdfium
import pytest
import responses

from agrement import create_app
from agrement.adapters.orm import agrements, metadata
from agrement.bootstrap import bootstrap
from agrement.extract.commands import import_extract
from agrement.extract.domain.demo import generate_demo_extract
from agrement.settings import Settings
from services.auth import generate_signing_key, issue_token, public_jwks

JWKS = "http://identity.test/.well-known/jwks.json"
CHARTRES = "28085"   # demo: DUPONT (active), RICHARD (opposed to publication here), LEGRAND (withdrawn here)


@pytest.fixture
def client(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'a.sqlite3'}",
                        broker_url=f"sqlitebus:///{tmp_path / 'bus.sqlite3'}", identity_jwks_url=JWKS)
    container = bootstrap(settings)
    metadata.create_all(container.engine)
    import_extract(container.session_factory, generate_demo_extract(count=10).splitlines(keepends=True), "d.csv")
    with container.session_factory() as session, session.begin():
        session.execute(agrements.update().where(agrements.c.last_name == "RICHARD").values(publication_opposed=True))
        session.execute(agrements.update().where(agrements.c.last_name == "LEGRAND").values(status="withdrawn"))
    return create_app(container=container).test_client()


@pytest.fixture
def key():
    signing_key = generate_signing_key()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(JWKS, json=public_jwks([signing_key]))
        yield signing_key


def staff(key, role="pmi_agent", circonscriptions=("Chartres",)):
    token = issue_token(key, subject="staff-1", role=role, issuer="assmat-identity", audience="assmat-portal",
                        lifetime_seconds=60, extra={"roles": [role], "circonscriptions": list(circonscriptions)})
    return {"Authorization": f"Bearer {token}"}


def test_the_csv_is_headed_with_the_mairies_contact_and_keeps_those_opposed_to_publication(client, key):
    response = client.get(f"/api/backoffice/mairie-lists/{CHARTRES}.csv", headers=staff(key))
    assert response.status_code == 200 and response.content_type == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="liste-assmats-28085-')
    text = response.data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0] == ["Assistants maternels agréés — Chartres (28085)"]
    assert "02 37 23 40 00" in rows[1][0] and "contact@ville-chartres.fr" in rows[1][0]
    assert "L421-8" in rows[2][0] and "2 assistant(s)" in rows[2][0]
    columns = rows.index(next(r for r in rows if r[:1] == ["Nom"]))
    names = [row[0] for row in rows[columns + 1:]]
    # L421-8: an opposition to publication on the site (RICHARD) keeps her on the list; a withdrawal does not.
    assert names == ["DUPONT", "RICHARD"]
    assert rows[columns + 1][4] == "02 61 91 00 01"


def test_an_agent_of_another_circonscription_gets_none_of_chartres_assmats(client, key):
    text = client.get(f"/api/backoffice/mairie-lists/{CHARTRES}.csv",
                      headers=staff(key, circonscriptions=("Dreux",))).data.decode("utf-8-sig")
    assert "DUPONT" not in text and "0 assistant(s)" in text


@pytest.mark.parametrize("path,status", [("99999.csv", 404), ("28085.xls", 404), ("abc.csv", 404)])
def test_unknown_communes_and_formats_are_refused(client, key, path, status):
    response = client.get(f"/api/backoffice/mairie-lists/{path}", headers=staff(key))
    assert response.status_code == status and response.get_json()["error"]["code"]


def test_the_lists_are_for_staff_only(client, key):
    token = issue_token(key, subject="a", role="assmat", issuer="assmat-identity", audience="assmat-portal",
                        lifetime_seconds=60, extra={"pmi_number": "280001"})
    assert client.get(f"/api/backoffice/mairie-lists/{CHARTRES}.csv",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 403


def _ink(image, box) -> float:
    """Share of non-white pixels in a box of the page image."""
    region = image.convert("L").crop(box)
    return sum(region.histogram()[:200]) / (region.width * region.height)


def test_the_pdf_renders_to_a_landscape_page_with_its_heading_and_one_row_per_assmat(client, key):
    response = client.get(f"/api/backoffice/mairie-lists/{CHARTRES}.pdf", headers=staff(key))
    assert response.status_code == 200 and response.content_type == "application/pdf"
    document = pdfium.PdfDocument(response.data)
    assert len(document) == 1
    page = document[0]
    image = page.render(scale=1).to_pil()   # 72 dpi: an A4 landscape page is 841.9 x 595.3 points
    assert image.width == 842 and image.height in (595, 596)
    # The heading and the table are drawn (ink at the top, ink where the rows are), the bottom of the page is blank.
    assert _ink(image, (28, 28, 814, 60)) > 0.02
    assert _ink(image, (28, 110, 814, 160)) > 0.02
    assert _ink(image, (28, 400, 814, 560)) == 0
    assert _ink(image, (image.width - 26, 0, image.width, image.height)) == 0   # the table fits within the margin
    text = page.get_textpage().get_text_range()
    assert "Chartres (28085)" in text and "02 37 23 40 00" in text and "L421-8" in text
    assert text.index("DUPONT") < text.index("RICHARD") and "LEGRAND" not in text

    # An empty list still renders, saying so.
    empty = client.get(f"/api/backoffice/mairie-lists/{CHARTRES}.pdf", headers=staff(key, circonscriptions=("X",)))
    empty_page = pdfium.PdfDocument(empty.data)[0]
    assert "Aucun assistant maternel" in empty_page.get_textpage().get_text_range()
    assert _ink(empty_page.render(scale=1).to_pil(), (28, 130, 814, 200)) < _ink(image, (28, 130, 814, 200))
