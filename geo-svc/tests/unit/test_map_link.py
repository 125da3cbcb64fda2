"""Reading the map link an assmat pastes (geo.corrections.domain): the variants people really paste, and what is
refused with a clear French message."""
import pytest

from geo.corrections.domain import InvalidLink, MapPoint, check_proposal, in_france, parse_map_link

CHARTRES = (48.4469, 1.4892)


@pytest.mark.parametrize("link,expected", [
    ("https://adresse.data.gouv.fr/map?lng=1.47921&lat=48.4460&z=18", (48.4460, 1.47921, 18)),
    ("http://adresse.data.gouv.fr/map?lng=1.47921&lat=48.4460&z=18", (48.4460, 1.47921, 18)),
    ("https://adresse.data.gouv.fr/map?z=18&lat=48.4460&lng=1.47921", (48.4460, 1.47921, 18)),   # any order
    ("https://adresse.data.gouv.fr/map?lat=48.4460&lng=1.47921", (48.4460, 1.47921, None)),      # no zoom
    ("https://adresse.data.gouv.fr/map?lng=1.47921&lat=48.4460&z=18&style=ortho&layer=ban",
     (48.4460, 1.47921, 18)),                                                                      # extra params
    ("https://adresse.data.gouv.fr/map?lng=1.47921&lat=48.4460&z=18#18/48.4460/1.47921",
     (48.4460, 1.47921, 18)),                                                                      # # fragment
    ("https://adresse.data.gouv.fr/carte-base-adresse-nationale#17.5/48.4460/1.47921",
     (48.4460, 1.47921, 17.5)),                                                                    # fragment only
    ("  https://adresse.data.gouv.fr/map?lng=1.47921&lat=48.4460&z=18  ", (48.4460, 1.47921, 18)),
    ("https://adresse.data.gouv.fr/map?lng=1.47921\n&lat=48.4460&z=18", (48.4460, 1.47921, 18)),   # line break
    ("https://adresse.data.gouv.fr/map?lng=1.47921& lat=48.4460 &z=18", (48.4460, 1.47921, 18)),   # spaces
    ("HTTPS://ADRESSE.DATA.GOUV.FR/map?LNG=1.47921&LAT=48.4460&Z=18", (48.4460, 1.47921, 18)),
    ("https://www.adresse.data.gouv.fr/map?lng=1.47921&lat=48.4460&z=18", (48.4460, 1.47921, 18)),
    ("adresse.data.gouv.fr/map?lng=1.47921&lat=48.4460&z=18", (48.4460, 1.47921, 18)),  # scheme forgotten
    ("https://adresse.data.gouv.fr/map?lng=1,47921&lat=48,4460&z=18", (48.4460, 1.47921, 18)),  # decimal comma
    ("https://adresse.data.gouv.fr/map?lon=1.47921&lat=48.4460&zoom=19", (48.4460, 1.47921, 19)),
    ("https://adresse.data.gouv.fr/map?lng=-1.5536&lat=47.2184&z=16", (47.2184, -1.5536, 16)),  # west: negative
    ("https://adresse.data.gouv.fr/map?lat=1&lat=48.4460&lng=1.47921&z=18", (48.4460, 1.47921, 18)),  # last wins
])
def test_the_variants_people_paste_give_the_map_centre(link, expected):
    assert parse_map_link(link) == MapPoint(*expected)


@pytest.mark.parametrize("link,code", [
    ("", "link_missing"),
    ("   ", "link_missing"),
    ("48.4460, 1.47921", "invalid_link"),
    ("https://www.google.com/maps/@48.4460,1.47921,18z", "other_site"),
    ("https://www.openstreetmap.org/?mlat=48.4460&mlon=1.47921#map=18/48.4460/1.47921", "other_site"),
    ("https://adresse.data.gouv.fr.evil.example/map?lng=1.47921&lat=48.4460&z=18", "other_site"),
    ("https://evil.example/?u=https://adresse.data.gouv.fr/map?lng=1.4&lat=48.4&z=18", "other_site"),
    ("https://user@evil.example/adresse.data.gouv.fr/map?lng=1.4&lat=48.4&z=18", "other_site"),
    ("javascript:alert(1)//adresse.data.gouv.fr", "invalid_link"),
    ("https://adresse.data.gouv.fr/map", "coordinates_missing"),
    ("https://adresse.data.gouv.fr/map?lng=1.47921&z=18", "coordinates_missing"),
    ("https://adresse.data.gouv.fr/map?lng=&lat=48.4460&z=18", "coordinates_missing"),
    ("https://adresse.data.gouv.fr/map?lng=abc&lat=48.4460&z=18", "invalid_coordinates"),
    ("https://adresse.data.gouv.fr/map?lng=NaN&lat=48.4460&z=18", "invalid_coordinates"),
    ("https://adresse.data.gouv.fr/map?lng=1.4&lat=nan&z=18", "invalid_coordinates"),
    ("https://adresse.data.gouv.fr/map?lng=inf&lat=48.4460&z=18", "invalid_coordinates"),
    ("https://adresse.data.gouv.fr/map?lng=1e1&lat=48.4460&z=18", "invalid_coordinates"),
    ("https://adresse.data.gouv.fr/map?lng=1.4&lat=148.4460&z=18", "invalid_coordinates"),
    ("https://adresse.data.gouv.fr/map?lng=1.47921&lat=48.4460&z=99", "invalid_zoom"),
    ("https://adresse.data.gouv.fr/map?lng=1.47921&lat=48.4460&z=-3", "invalid_zoom"),
    ("https://adresse.data.gouv.fr/map?lng=1.47921&lat=48.4460&z=big", "invalid_zoom"),
    ("https://adresse.data.gouv.fr/map?lng=1.47921&lat=48.4460&z=6", "zoom_too_low"),
    ("https://adresse.data.gouv.fr/map?lng=1.47921&lat=48.4460&z=" + "9" * 3000, "invalid_link"),
])
def test_bad_links_are_refused_with_a_reason(link, code):
    with pytest.raises(InvalidLink) as refused:
        parse_map_link(link)
    assert refused.value.code == code and refused.value.message


def test_a_point_outside_france_is_refused():
    assert in_france(48.446, 1.479) and in_france(-21.1, 55.5) and in_france(42.7, 9.45)   # Réunion, Corsica
    for point in (MapPoint(51.5074, -0.1278, 18), MapPoint(40.4168, -3.7038, 18), MapPoint(0.0, 0.0, 18)):
        with pytest.raises(InvalidLink) as refused:
            check_proposal(point, *CHARTRES, 15_000)
        assert refused.value.code == "outside_france"


def test_a_point_far_from_the_commune_is_refused_and_a_near_one_accepted():
    check_proposal(MapPoint(48.4460, 1.47921, 18), *CHARTRES, 15_000)   # 1 km from the mairie
    with pytest.raises(InvalidLink) as refused:
        check_proposal(MapPoint(48.8566, 2.3522, 18), *CHARTRES, 15_000)   # Paris, 80 km
    assert refused.value.code == "far_from_commune" and "km" in refused.value.message
