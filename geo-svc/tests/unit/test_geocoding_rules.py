"""Rules on a geocoding result: weak ones to review, the public pin, address matching, the client-side limit, and
how an unavailable geocoder counts for the kernel."""
import pytest

from geo.adapters.geocoders import RateLimiter, split_address, street_key
from geo.geocoding.domain import GeocodeResult, distance_m, public_pin, weakness


def result(kind="housenumber", score=0.9, citycode="28085"):
    return GeocodeResult(48.4448, 1.4844, kind, score, "8 Rue Noël Ballay 28000 Chartres", citycode, "ban")


@pytest.mark.parametrize("found,expected", [
    (result(), None),
    (result(score=0.45), "score faible"),
    (result("street", 0.9), "voie"),
    (result("locality", 0.9), "lieu-dit"),
    (result("municipality", 0.9), "commune"),
    (result(citycode="28209"), "autre commune"),
    (None, "introuvable"),
])
def test_weak_results_say_why(found, expected):
    reason = weakness(found, 0.6, "28085")
    assert (reason is None) if expected is None else (expected in reason)


def test_a_commune_result_is_not_weak_where_the_departement_geocodes_at_the_commune_only():
    assert weakness(result("municipality", 0.3), 0.6, "28085", commune_level_only=True) is None


def test_the_address_pin_is_the_point_and_the_blurred_pin_a_stable_cell_centre():
    assert public_pin(48.444812, 1.484391, "address", 300) == (48.444812, 1.484391, "address")
    lat, lon, kind = public_pin(48.444812, 1.484391, "blurred", 300)
    assert kind == "blurred" and 10 < distance_m(lat, lon, 48.444812, 1.484391) <= 300 * 0.75
    # Two nearby homes in one cell share the pin; the same home always gives the same pin.
    assert public_pin(48.444812, 1.484391, "blurred", 300) == (lat, lon, kind)
    far = public_pin(48.4548, 1.4844, "blurred", 300)
    assert distance_m(far[0], far[1], lat, lon) > 300


@pytest.mark.parametrize("line,expected", [
    ("8 rue Noël Ballay", ("8", "", "rue noel ballay")),
    ("8 bis r. Noël-Ballay", ("8", "bis", "rue noel ballay")),
    ("12B av Jehan de Beauce", ("12", "b", "avenue jehan de beauce")),
    ("Le Bourg", ("", "", "le bourg")),
    ("008, Place des Épars", ("8", "", "place des epars")),
])
def test_address_lines_are_split_and_folded_like_the_ban_spells_streets(line, expected):
    assert split_address(line) == expected
    assert street_key("BD  de la  Courtille") == "boulevard de la courtille"


def test_the_rate_limiter_spaces_calls_at_the_rate():
    now, slept = [0.0], []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(50, clock=lambda: now[0], sleep=sleep)
    for _ in range(101):
        limiter.wait()
    assert now[0] == pytest.approx(2.0)   # 101 calls at 50/s: the last one 2 s after the first


def test_an_unavailable_geocoder_is_an_infrastructure_failure_retried_without_limit():
    from geo.adapters.geocoders import GeocoderUnavailable
    from services.failures import is_infrastructure_error
    assert is_infrastructure_error(GeocoderUnavailable("/search/: HTTP 503"))
