"""The BAN HTTP adapter against a local server that answers like the address API (geo.adapters.fake_ban):
GeoCodeJSON, 429 with Retry-After, 5xx, slow answers, the CSV batch endpoint."""
import pytest

from geo.adapters.fake_ban import from_extract_rows
from geo.adapters.geocoders import BanGeocoder
from geo.addresses.commands import SAMPLE, read_extract
from geo.adapters.geocoders import GeocoderUnavailable
from geo.geocoding.domain import AddressQuery

NOEL_BALLAY = AddressQuery("280001", "8 rue Noël Ballay", "28000", "28085")


@pytest.fixture
def ban():
    fake = from_extract_rows(list(read_extract(SAMPLE)))
    server, url = fake.serve()
    slept = []
    yield fake, BanGeocoder(url, timeout=0.5, retries=3, backoff=0.01, rate=0, sleep=slept.append), slept
    server.shutdown()


def test_search_reads_geocodejson_with_type_and_score(ban):
    fake, geocoder, _ = ban
    found = geocoder.geocode(NOEL_BALLAY)
    assert (found.type, found.citycode, found.source) == ("housenumber", "28085", "ban")
    assert found.score == pytest.approx(0.93) and "Noël Ballay" in found.label
    assert abs(found.latitude - 48.4451) < 0.001 and abs(found.longitude - 1.4850) < 0.001
    street_only = geocoder.geocode(AddressQuery("x", "250 rue Noël Ballay", "28000", "28085"))
    assert street_only.type == "street"
    assert geocoder.geocode(AddressQuery("y", "1 chemin Inconnu", "28000", "28085")) is None
    assert fake.behaviour.requests == ["/search/"] * 3


def test_429_waits_as_told_then_succeeds(ban):
    fake, geocoder, slept = ban
    fake.behaviour.fail_statuses = [429, 429]
    fake.behaviour.retry_after = "2"
    assert geocoder.geocode(NOEL_BALLAY).type == "housenumber"
    assert slept == [2.0, 2.0] and len(fake.behaviour.requests) == 3


def test_5xx_retries_with_growing_backoff(ban):
    fake, geocoder, slept = ban
    fake.behaviour.fail_statuses = [502, 503, 500]
    assert geocoder.geocode(NOEL_BALLAY) is not None
    assert slept == [0.01, 0.02, 0.04]


def test_a_geocoder_down_past_its_retries_raises_unavailable(ban):
    fake, geocoder, _ = ban
    fake.behaviour.fail_statuses = [503] * 10
    with pytest.raises(GeocoderUnavailable):
        geocoder.geocode(NOEL_BALLAY)
    assert len(fake.behaviour.requests) == 4   # one call and three retries


def test_a_slow_answer_times_out_and_is_retried(ban):
    fake, geocoder, _ = ban
    geocoder.timeout = 0.1
    fake.behaviour.delay_seconds = 0.3   # beyond the timeout
    with pytest.raises(GeocoderUnavailable):
        geocoder.geocode(NOEL_BALLAY)
    assert len(fake.behaviour.requests) == 4


def test_a_refused_query_is_not_retried(ban):
    fake, geocoder, _ = ban
    assert geocoder.search("ab") == [] and fake.behaviour.requests == ["/search/"]


def test_reverse_gives_the_nearest_address(ban):
    _, geocoder, _ = ban
    found = geocoder.reverse(48.44482, 1.48439)
    assert found.type == "housenumber" and found.label.startswith("1 Rue Noël Ballay")


def test_the_csv_batch_geocodes_many_places_in_one_call(ban):
    fake, geocoder, _ = ban
    queries = [AddressQuery(str(n), f"{n} rue Noël Ballay", "28000", "28085") for n in range(1, 25)]
    queries += [AddressQuery("lost", "3 impasse Introuvable", "28000", "28085"),
                AddressQuery("lieu-dit", "Le Bourg", "28300", "28209"),
                AddressQuery("quoted", '2 rue "Noël", Ballay', "28000", "28085")]
    found = geocoder.geocode_many(queries)
    assert fake.behaviour.requests == ["/search/csv/"]
    assert all(found[str(n)].type == "housenumber" for n in range(1, 25))
    assert found["lost"] is None and found["lieu-dit"].type == "locality"
    assert found["quoted"] is not None, "a quote or comma in an address survives the CSV round trip"


def test_the_csv_batch_retries_on_429_too(ban):
    fake, geocoder, _ = ban
    fake.behaviour.fail_statuses = [429]
    assert geocoder.geocode_many([NOEL_BALLAY])["280001"] is not None
    assert fake.behaviour.requests == ["/search/csv/", "/search/csv/"]
