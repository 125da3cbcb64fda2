"""A local stand-in for the Base Adresse Nationale's API, for tests and the bench (never used in production).

It answers `/search/`, `/reverse/` and `/search/csv/` the way the address API does (GeoCodeJSON features, result_*
columns), from an in-memory list of address points; and it can misbehave on demand: the next N answers 429 (with
Retry-After) or 5xx, or every answer delayed. Listens on 127.0.0.1 only.
"""
from __future__ import annotations

import csv
import io
import json
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from geo.adapters.geocoders import split_address, street_key
from geo.geocoding.domain import distance_m


@dataclass
class FakeAddress:
    number: str
    street: str
    postcode: str
    citycode: str
    city: str
    latitude: float
    longitude: float


@dataclass
class Behaviour:
    fail_statuses: list[int] = field(default_factory=list)   # consumed one per request, first to last
    delay_seconds: float = 0.0
    retry_after: str = "0"
    requests: list[str] = field(default_factory=list)        # paths seen, for tests to count


def _feature(address: FakeAddress, score: float, kind: str) -> dict:
    name = f"{address.number} {address.street}".strip() if kind == "housenumber" else address.street
    label = f"{name} {address.postcode} {address.city}"
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [address.longitude, address.latitude]},
            "properties": {"label": label, "score": score, "id": f"{address.citycode}_{street_key(address.street)}",
                           "type": kind, "name": name, "housenumber": address.number, "street": address.street,
                           "postcode": address.postcode, "citycode": address.citycode, "city": address.city,
                           "context": "28, Eure-et-Loir, Centre-Val de Loire", "x": 0, "y": 0}}


class FakeBan:
    def __init__(self, addresses: list[FakeAddress]):
        self.addresses = addresses
        self.behaviour = Behaviour()
        self._by_street: dict[tuple[str, str], list[FakeAddress]] = {}
        for address in addresses:
            self._by_street.setdefault((address.citycode, street_key(address.street)), []).append(address)

    def search(self, q: str, citycode: str | None) -> dict | None:
        number, _suffix, street = split_address(q)
        # The query may end with the postcode: drop trailing digits words.
        words = [w for w in street.split() if not (w.isdigit() and len(w) == 5)]
        street = " ".join(words)
        for (code, key), found in self._by_street.items():
            if (citycode and code != citycode) or key != street:
                continue
            exact = [a for a in found if number and a.number == number]
            if exact:
                return _feature(exact[0], 0.93, "housenumber")
            if not found[0].number:
                return _feature(found[0], 0.55, "locality")   # a lieu-dit: the BAN's type for it
            return _feature(found[0], 0.62, "street")
        return None

    def reverse(self, lat: float, lon: float) -> dict | None:
        if not self.addresses:
            return None
        best = min(self.addresses, key=lambda a: distance_m(lat, lon, a.latitude, a.longitude))
        return _feature(best, 1.0, "housenumber")

    # -- HTTP ----------------------------------------------------------------------------------------------------
    def serve(self) -> tuple[ThreadingHTTPServer, str]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):   # quiet in tests
                pass

            def _misbehave(self) -> bool:
                fake.behaviour.requests.append(urlsplit(self.path).path)
                if fake.behaviour.delay_seconds:
                    time.sleep(fake.behaviour.delay_seconds)
                if fake.behaviour.fail_statuses:
                    status = fake.behaviour.fail_statuses.pop(0)
                    body = json.dumps({"code": status, "message": "Too many requests" if status == 429
                                       else "Server error"}).encode()
                    self.send_response(status)
                    if status == 429:
                        self.send_header("Retry-After", fake.behaviour.retry_after)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return True
                return False

            def _json(self, payload: dict, status: int = 200):
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self._misbehave():
                    return
                parts = urlsplit(self.path)
                args = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                if parts.path == "/search/":
                    q = args.get("q", "")
                    if len(q.strip()) < 3:
                        return self._json({"code": 400, "message": "q must contain between 3 and 200 chars"},
                                          400)
                    found = fake.search(q, args.get("citycode"))
                    return self._json({"type": "FeatureCollection", "version": "draft", "query": q,
                                       "features": [found] if found else []})
                if parts.path == "/reverse/":
                    try:
                        lat, lon = float(args["lat"]), float(args["lon"])
                    except (KeyError, ValueError):
                        return self._json({"code": 400, "message": "lat and lon required"}, 400)
                    found = fake.reverse(lat, lon)
                    return self._json({"type": "FeatureCollection", "features": [found] if found else []})
                self._json({"code": 404, "message": "not found"}, 404)

            def do_POST(self):
                if self._misbehave():
                    return
                if urlsplit(self.path).path != "/search/csv/":
                    return self._json({"code": 404, "message": "not found"}, 404)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                message = BytesParser(policy=HTTP).parsebytes(
                    f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + raw)
                fields = {}
                for part in message.iter_parts():
                    name = part.get_param("name", header="content-disposition")
                    fields.setdefault(name, []).append(part.get_payload(decode=True))
                data = (fields.get("data") or [b""])[0].decode("utf-8")
                columns = [c.decode() for c in fields.get("columns", [])]
                citycode_column = (fields.get("citycode") or [b""])[0].decode()
                reader = csv.DictReader(io.StringIO(data))
                out = io.StringIO()
                names = list(reader.fieldnames or []) + ["latitude", "longitude", "result_label", "result_score",
                                                         "result_type", "result_id", "result_housenumber",
                                                         "result_name", "result_street", "result_postcode",
                                                         "result_city", "result_context", "result_citycode"]
                writer = csv.DictWriter(out, fieldnames=names)
                writer.writeheader()
                for row in reader:
                    q = " ".join(row.get(c, "") for c in columns if c != citycode_column)
                    found = fake.search(q, row.get(citycode_column) if citycode_column else None)
                    result = {name: "" for name in names[len(reader.fieldnames or []):]}
                    if found:
                        props = found["properties"]
                        result.update({"longitude": found["geometry"]["coordinates"][0],
                                       "latitude": found["geometry"]["coordinates"][1],
                                       "result_label": props["label"], "result_score": props["score"],
                                       "result_type": props["type"], "result_id": props["id"],
                                       "result_postcode": props["postcode"], "result_city": props["city"],
                                       "result_citycode": props["citycode"]})
                    writer.writerow({**row, **result})
                body = out.getvalue().encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/csv; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return server, f"http://127.0.0.1:{server.server_address[1]}"


def from_extract_rows(rows) -> FakeBan:
    """A fake API knowing the rows of a BAN CSV extract (geo.addresses.commands.parse_rows)."""
    return FakeBan([FakeAddress(r["number"], r["street_name"], r["postcode"], r["commune_insee"], r["commune_name"],
                                r["latitude"], r["longitude"]) for r in rows])
