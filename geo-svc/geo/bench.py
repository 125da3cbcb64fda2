"""`python -m geo bench [N]`: throughput of the geocoding paths, on a scratch SQLite file (never the service's
database) and a local stand-in of the address API.

- communes: the offline commune-level geocoder (GEO_GEOCODER=communes), batches of 500 places as the worker sends;
- addresses: the address table loaded from the demo BAN extract (GEO_GEOCODER=addresses);
- ban csv: `BanGeocoder.geocode_many`, one POST /search/csv/ per 5,000 places, against the local stand-in: what the
  client side and the HTTP round trip cost (a real addok's own matching time comes on top);
- ban search: one GET /search/ per place, with the client-side limit of 50 a second and without it.
"""
from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path


def _rate(count: int, seconds: float) -> str:
    return f"{count} en {seconds:.2f} s, {count / seconds:,.0f}/s".replace(",", " ")


def bench_command(_settings, argv) -> int:
    from geo.adapters.fake_ban import from_extract_rows
    from geo.adapters.geocoders import AddressTableGeocoder, BanGeocoder, CommuneGeocoder
    from geo.adapters.orm import metadata
    from geo.addresses.commands import SAMPLE, load_addresses, read_extract
    from geo.communes.commands import load_reference
    from geo.geocoding.domain import AddressQuery
    from services.db import make_engine, make_session_factory

    count = int(argv[0]) if argv and argv[0].isdigit() else 20000
    rng = random.Random(9)
    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'bench.sqlite3'}")
        metadata.create_all(engine)
        factory = make_session_factory(engine)
        load_reference(factory, ["28"])
        rows = list(read_extract(SAMPLE))
        load_addresses(factory, iter(rows))
        from geo.adapters.orm import communes
        import sqlalchemy as sa
        with factory() as session:
            codes = session.execute(sa.select(communes.c.insee_code)).scalars().all()
        commune_queries = [AddressQuery(str(i), "1 rue de l'Église", "28000", rng.choice(codes))
                           for i in range(count)]
        address_queries = [AddressQuery(str(i), f"{r['number']} {r['street_name']}", r["postcode"],
                                        r["commune_insee"]) for i, r in
                           enumerate(rng.choice(rows) for _ in range(count))]

        def timed(geocoder, queries, chunk):
            start = time.perf_counter()
            found = 0
            for offset in range(0, len(queries), chunk):
                answers = geocoder.geocode_many(queries[offset:offset + chunk])
                found += sum(1 for a in answers.values() if a is not None)
            return time.perf_counter() - start, found

        seconds, found = timed(CommuneGeocoder(factory), commune_queries, 500)
        print(f"communes (hors ligne, lots de 500)   : {_rate(count, seconds)} ({found} localisés)")
        seconds, found = timed(AddressTableGeocoder(factory), address_queries, 500)
        print(f"table d'adresses BAN (lots de 500)    : {_rate(count, seconds)} ({found} localisés)")
        fake = from_extract_rows(rows)
        server, url = fake.serve()
        try:
            ban = BanGeocoder(url, rate=0)
            seconds, found = timed(ban, address_queries, 5000)
            print(f"API BAN, /search/csv/ (lots de 5000)  : {_rate(count, seconds)} ({found} localisés) "
                  "— serveur local de substitution")
            single = address_queries[:300]
            start = time.perf_counter()
            for query in single:
                ban.geocode(query)
            seconds = time.perf_counter() - start
            print(f"API BAN, /search/ une par une         : {_rate(len(single), seconds)} (sans limite client)")
            limited = BanGeocoder(url, rate=50.0)
            start = time.perf_counter()
            for query in single[:100]:
                limited.geocode(query)
            seconds = time.perf_counter() - start
            print(f"API BAN, /search/ limite 50/s         : {_rate(100, seconds)}")
        finally:
            server.shutdown()
        engine.dispose()
    return 0
