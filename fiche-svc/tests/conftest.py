"""Fixtures shared by fiche-svc's tests: a migrated SQLite database, agrément and place events, the projection."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
import sqlalchemy as sa

from fiche.projection.consumers import HANDLERS
from services.catalogue.agrement import AGREMENT_GRANTED, AGREMENT_MODIFIED, AGREMENT_WITHDRAWN
from services.catalogue.geo import PLACE_LOCATED
from services.db import kernel_tables, make_engine, make_session_factory, upgrade
from services.events import Event
from services.inbox import handle_once

_SPECS = {"granted": AGREMENT_GRANTED, "modified": AGREMENT_MODIFIED, "withdrawn": AGREMENT_WITHDRAWN}
# Recent: the kernel refuses events older than the inbox retention, which it can no longer tell from duplicates.
T0 = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(days=1)
BIRTH_DATE = "1979-05-17"
HOME_ADDRESS = "12 rue des Lilas"


def agrement_data(pmi_number: str = "123456", **overrides) -> dict:
    far = (dt.date.today() + dt.timedelta(days=700)).isoformat()
    data = {
        "pmi_number": pmi_number, "civility": "Mme", "first_name": "Marie", "last_name": "Lefèvre",
        "birth_name": None, "birth_date": BIRTH_DATE, "email": "marie.lefevre@example.org",
        "phone": "02 37 00 00 01", "address_line": HOME_ADDRESS, "address_complement": "Bâtiment B",
        "postcode": "28000", "commune_insee": "28085", "circonscription": "Chartres Nord",
        "capacity_total": 4, "capacity_under_3": 3, "validity_start": "2022-01-01", "validity_end": far,
        "status": "active", "publication_opposed": False, "place_type": "home", "mam_id": None, "mam_name": None,
    }
    data.update(overrides)
    return data


def agrement_event(kind: str = "granted", pmi_number: str = "123456", at: int = 0, **overrides) -> Event:
    """An agrément event as agrement-svc builds it, `at` seconds after T0."""
    data = agrement_data(pmi_number, **overrides)
    if kind == "modified":
        data.setdefault("changed_fields", sorted(overrides))
    event = _SPECS[kind].build(pmi_number, data)
    return dataclasses.replace(event, occurred_at=(T0 + dt.timedelta(seconds=at)).isoformat())


def place_event(place_id: str = "123456", at: int = 0, **overrides) -> Event:
    data = {"place_id": place_id, "commune_insee": "28085", "commune_name": "Chartres", "postcode": "28000",
            "latitude": 48.443551, "longitude": 1.488282, "precision": "municipality", "score": 0.3}
    data.update(overrides)
    event = PLACE_LOCATED.build(place_id, data)
    return dataclasses.replace(event, occurred_at=(T0 + dt.timedelta(seconds=at)).isoformat())


class Projection:
    """The handlers run as the worker runs them (inbox included) on a migrated database."""

    def __init__(self, database_url: str):
        self.database_url = database_url
        self.engine = make_engine(database_url)
        self.session_factory = make_session_factory(self.engine)

    def handle(self, *events: Event) -> list[bool]:
        return [handle_once(self.session_factory, HANDLERS[event.type], event) for event in events]

    def outbox(self) -> list[Event]:
        outbox, _ = kernel_tables(sa.MetaData())
        with self.session_factory() as session:
            payloads = session.execute(sa.select(outbox.c.payload).order_by(outbox.c.position)).scalars()
            return [Event.from_dict(json.loads(payload)) for payload in payloads]

    def rows(self, table: str) -> list[dict]:
        with self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(sa.text(f"SELECT * FROM {table}")).mappings()]


@pytest.fixture
def database_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'fiche.sqlite3'}"
    upgrade(url, "fiche:migrations")
    return url


@pytest.fixture
def projection(database_url) -> Projection:
    projection = Projection(database_url)
    yield projection
    projection.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def each_projection(request, database_url) -> Projection:
    """The projection on SQLite, then on PostgreSQL (a fresh database of the real_servers fixture, which skips loudly,
    or fails under ASSMAT_REQUIRE_REAL_SERVERS=1, where there is none)."""
    url = database_url
    if request.param == "postgresql":
        url = request.getfixturevalue("real_servers").database("fiche")
        upgrade(url, "fiche:migrations")
    projection = Projection(url)
    yield projection
    projection.engine.dispose()


@pytest.fixture
def make():
    """Event builders (test modules cannot import conftest under --import-mode=importlib)."""
    from types import SimpleNamespace
    return SimpleNamespace(agrement=agrement_event, place=place_event, agrement_data=agrement_data,
                           birth_date=BIRTH_DATE, home_address=HOME_ADDRESS)
