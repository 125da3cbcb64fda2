"""A static map for support's review page, drawn on the server as SVG: the points (current pin, proposal, commune)
in Web Mercator, with the tiles of the département's tile server behind them when one is set (geo-svc's
GEO_TILE_URL). No script and no external host: the page works where Leaflet's files or a public tile server are not
reachable, and the coordinates are printed beside it anyway."""
from __future__ import annotations

import math
from dataclasses import dataclass

TILE = 256


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    label: str
    kind: str        # "current" | "proposal" | "commune"


@dataclass(frozen=True)
class Tile:
    href: str
    x: float
    y: float


@dataclass(frozen=True)
class StaticMap:
    width: int
    height: int
    zoom: int
    markers: list[Marker]
    tiles: list[Tile]
    scale_px: float
    scale_label: str


def _pixel(lat: float, lon: float, zoom: int) -> tuple[float, float]:
    size = TILE * 2 ** zoom
    lat = max(min(lat, 85.0511), -85.0511)
    x = (lon + 180.0) / 360.0 * size
    s = math.sin(math.radians(lat))
    y = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * size
    return x, y


def static_map(points: list[tuple[float, float, str, str]], tile_url: str | None, width: int = 640,
               height: int = 400, margin: int = 50) -> StaticMap | None:
    """`points`: (lat, lon, label, kind). The highest zoom (10 to 19) at which every point fits."""
    points = [p for p in points if p[0] is not None and p[1] is not None]
    if not points:
        return None
    zoom = 10
    for candidate in range(19, 9, -1):
        xs, ys = zip(*(_pixel(lat, lon, candidate) for lat, lon, _, _ in points))
        if max(xs) - min(xs) <= width - 2 * margin and max(ys) - min(ys) <= height - 2 * margin:
            zoom = candidate
            break
    xs, ys = zip(*(_pixel(lat, lon, zoom) for lat, lon, _, _ in points))
    left = (max(xs) + min(xs)) / 2 - width / 2
    top = (max(ys) + min(ys)) / 2 - height / 2
    markers = [Marker(x - left, y - top, label, kind) for (x, y), (_, _, label, kind) in
               zip(zip(xs, ys), points)]
    tiles = []
    if tile_url:
        count = 2 ** zoom
        for ty in range(int(top // TILE), int((top + height) // TILE) + 1):
            for tx in range(int(left // TILE), int((left + width) // TILE) + 1):
                if 0 <= ty < count:
                    href = (tile_url.replace("{z}", str(zoom)).replace("{x}", str(tx % count))
                            .replace("{y}", str(ty)))
                    tiles.append(Tile(href, tx * TILE - left, ty * TILE - top))
    # A scale bar: metres per pixel at the map's latitude, rounded to 1, 2 or 5 x 10^n.
    centre_lat = sum(p[0] for p in points) / len(points)
    metres_per_px = 156_543.03392 * math.cos(math.radians(centre_lat)) / 2 ** zoom
    target = metres_per_px * 120
    step = 10 ** math.floor(math.log10(target))
    metres = next(m * step for m in (5, 2, 1) if m * step <= target)
    label = f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"
    return StaticMap(width, height, zoom, markers, tiles, metres / metres_per_px, label)
