"""The public API over a SQLite file, filled through the event handlers."""
import pytest

from fiche import create_app
from services.text import fold
from fiche.settings import Settings

CHARTRES_NAMES = ["Zola", "Éluard", "Aragon", "Lefèvre", "Leduc", "de Gaulle", "Bâtard", "Martin", "Moreau",
                  "Petit", "Durand", "Roux", "Étienne", "Faure", "Garnier", "Hubert", "Ibert", "Joly", "Klein",
                  "Lambert", "Noël", "Olivier", "Perrin"]


@pytest.fixture
def seeded(projection, make):
    """23 public fiches in Chartres, 2 in Lèves and 1 in Champhol (both 28300), 1 in Chartres-de-Bretagne, a
    withdrawn one in Chartres; returns the PMI numbers used."""
    numbers = []

    def grant(last_name, **overrides):
        number = f"{100_000 + len(numbers):06d}"
        numbers.append(number)
        projection.handle(make.agrement(pmi_number=number, last_name=last_name, **overrides))
        return number

    for name in CHARTRES_NAMES:
        grant(name)
    grant("Vasseur", commune_insee="28209", postcode="28300")
    grant("Blanc", commune_insee="28209", postcode="28300", status="temporary_stop")
    grant("Rivière", commune_insee="28070", postcode="28300", place_type="mam", mam_name="MAM Les Petits Pas")
    grant("Le Gall", commune_insee="35066", postcode="35131")
    withdrawn = grant("Retiré")
    projection.handle(make.agrement("withdrawn", pmi_number=withdrawn, last_name="Retiré", at=60,
                                    status="withdrawn"))
    return numbers


@pytest.fixture
def client(database_url, seeded):
    app = create_app(Settings(environment="test", database_url=database_url, broker_url="memory://"))
    return app.test_client()


def _ids(projection):
    return {row["last_name"]: row["fiche_id"] for row in projection.rows("fiches")}


def test_search_by_insee_code_lists_fiches_by_last_name(client):
    body = client.get("/api/fiches?commune=28085&per_page=50").get_json()
    assert body["total"] == 23 and body["commune"] == {"insee": "28085", "name": "Chartres"}
    names = [fiche["last_name"] for fiche in body["fiches"]]
    assert names == sorted(CHARTRES_NAMES, key=fold)
    assert names[:3] == ["Aragon", "Bâtard", "de Gaulle"]  # accents and case do not push a name to the end


def test_search_pages_through_a_commune(client):
    pages = [client.get(f"/api/fiches?commune=28085&per_page=10&page={page}").get_json() for page in (1, 2, 3, 4)]
    assert [len(page["fiches"]) for page in pages] == [10, 10, 3, 0]
    assert all(page["total"] == 23 and page["per_page"] == 10 for page in pages)
    seen = [fiche["id"] for page in pages for fiche in page["fiches"]]
    assert len(set(seen)) == 23
    assert [page["page"] for page in pages] == [1, 2, 3, 4]


@pytest.mark.parametrize("query", ["Lèves", "leves", "LEVES", " lèves ", "Leves"])
def test_search_by_name_ignores_accents_and_case(client, query):
    body = client.get("/api/fiches", query_string={"q": query}).get_json()
    assert body["commune"] == {"insee": "28209", "name": "Lèves"}
    assert [fiche["last_name"] for fiche in body["fiches"]] == ["Blanc", "Vasseur"]


def test_an_exact_name_wins_over_longer_names(client):
    body = client.get("/api/fiches?q=chartres").get_json()
    assert body["commune"]["insee"] == "28085" and body["total"] == 23


def test_search_by_postcode(client):
    body = client.get("/api/fiches?q=28000").get_json()
    assert body["commune"] == {"insee": "28085", "name": "Chartres"} and body["total"] == 23


def test_a_postcode_of_several_communes_offers_candidates(client):
    body = client.get("/api/fiches?q=28300").get_json()
    assert body["commune"] is None and body["fiches"] == [] and body["total"] == 0
    assert [(c["insee"], c["name"], c["fiches"]) for c in body["candidates"]] == [
        ("28209", "Lèves", 2), ("28070", "Champhol", 1)]
    chosen = client.get("/api/fiches?q=28300&commune=28070").get_json()
    assert chosen["commune"] == {"insee": "28070", "name": "Champhol"}
    assert chosen["fiches"][0]["mam"] == {"name": "MAM Les Petits Pas"}


def test_a_name_start_of_several_communes_offers_candidates(client):
    body = client.get("/api/fiches?q=cha").get_json()
    assert {c["insee"] for c in body["candidates"]} == {"28085", "28070", "35066"}
    assert body["fiches"] == []


def test_commune_and_query_must_agree(client):
    body = client.get("/api/fiches?q=leves&commune=28085").get_json()
    assert body["total"] == 0 and body["commune"] is None and body["candidates"] == []


def test_nothing_found_is_an_empty_answer(client):
    body = client.get("/api/fiches?q=zzyzx").get_json()
    assert body == {"total": 0, "page": 1, "per_page": 20, "commune": None, "candidates": [], "fiches": []}
    unknown = client.get("/api/fiches?commune=28999").get_json()
    assert unknown["total"] == 0 and unknown["commune"] == {"insee": "28999", "name": None}


def test_withdrawn_fiches_are_not_found(client, projection):
    names = [fiche["last_name"] for fiche in client.get("/api/fiches?commune=28085&per_page=50").get_json()["fiches"]]
    assert "Retiré" not in names
    response = client.get(f"/api/fiches/{_ids(projection)['Retiré']}")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "fiche_not_found"


def test_one_fiche(client, projection):
    response = client.get(f"/api/fiches/{_ids(projection)['Lefèvre']}")
    assert response.status_code == 200
    fiche = response.get_json()
    assert fiche["last_name"] == "Lefèvre" and fiche["status"] == "active"
    assert fiche["contact"] == {"phone": "02 37 00 00 01", "email": "marie.lefevre@example.org"}
    assert fiche["capacity"] == {"total": 4, "under_3": 3}


def test_temporary_stop_fiche_is_found_without_contact(client, projection):
    fiche = client.get(f"/api/fiches/{_ids(projection)['Blanc']}").get_json()
    assert fiche["status"] == "temporary_stop" and fiche["contact"] is None


def test_no_answer_reveals_a_pmi_number_or_a_birth_date(client, seeded, make):
    bodies = [client.get(url).get_data(as_text=True) for url in
              ("/api/fiches?commune=28085&per_page=50", "/api/fiches?q=28300", "/api/communes-with-fiches?q=ch")]
    for body in bodies:
        assert not any(number in body for number in seeded)
        assert make.birth_date not in body and make.home_address not in body


@pytest.mark.parametrize("url", ["/api/fiches/" + "0" * 32, "/api/fiches/not-an-id", "/api/fiches/100000"])
def test_unknown_fiche_is_404(client, url):
    response = client.get(url)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "fiche_not_found"


@pytest.mark.parametrize("query, code", [
    ("", "missing_query"),
    ("commune=abc", "invalid_commune"),
    ("commune=280850", "invalid_commune"),
    ("commune=٢٨٠٨٥", "invalid_commune"),  # digits for str.isdigit() and the regex \d, not in an INSEE code
    ("commune=２８０８５", "invalid_commune"),
    ("commune=28085&per_page=51", "invalid_per_page"),
    ("commune=28085&per_page=0", "invalid_per_page"),
    ("commune=28085&page=0", "invalid_page"),
    ("commune=28085&page=deux", "invalid_page"),
    ("commune=28085&page=-1", "invalid_page"),
    ("commune=28085&page=١", "invalid_page"),  # int() would read it as 1
    ("q=2800", "invalid_postcode"),
    ("q=-'", "invalid_query"),
    ("q=" + "a" * 101, "invalid_query"),
])
def test_invalid_search_is_400_with_a_code(client, query, code):
    response = client.get(f"/api/fiches?{query}")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]


def test_communes_with_fiches_by_name_start(client):
    body = client.get("/api/communes-with-fiches?q=Ch").get_json()
    assert [(c["insee"], c["fiches"]) for c in body["communes"]] == [("28085", 23), ("28070", 1), ("35066", 1)]
    assert body["communes"][1]["postcodes"] == ["28300"]


def test_communes_with_fiches_by_postcode_start(client):
    body = client.get("/api/communes-with-fiches?q=283&limit=1").get_json()
    assert [(c["insee"], c["name"], c["fiches"]) for c in body["communes"]] == [("28209", "Lèves", 2)]


def test_communes_with_fiches_needs_a_query(client):
    response = client.get("/api/communes-with-fiches?q=c")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_query"
    assert client.get("/api/communes-with-fiches").get_json()["error"]["code"] == "missing_query"
