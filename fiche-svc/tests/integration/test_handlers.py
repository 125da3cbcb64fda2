"""The projection on SQLite: events in, fiches and outgoing events out, in whatever order events arrive."""
import datetime as dt

import pytest

from fiche.projection.commands import unpublish_lapsed
from fiche.projection.domain.publication import today
from fiche.search import queries
from services.events import InvalidEvent


def _search(projection, insee_code="28085"):
    with projection.session_factory() as session:
        return queries.search(session, insee_code=insee_code, query=None, on=today(), page=1, per_page=20)


def _fiche(projection):
    [row] = projection.rows("fiches")
    with projection.session_factory() as session:
        return queries.get_public_fiche(session, row["fiche_id"], today())


def _types(projection):
    return [event.type for event in projection.outbox()]


def test_granted_publishes_a_fiche_under_a_random_id(projection, make):
    projection.handle(make.agrement())
    [published] = projection.outbox()
    assert published.type == "fiche.published"
    fiche_id = published.data["fiche_id"]
    assert published.subject == fiche_id and len(fiche_id) == 32 and "123456" not in fiche_id
    assert published.data == {"fiche_id": fiche_id, "kind": "assmat", "commune_insee": "28085"}
    fiche = _fiche(projection)
    assert fiche["id"] == fiche_id and fiche["commune"]["name"] == "Chartres"


def test_granted_stores_neither_birth_date_nor_home_address(projection, make):
    projection.handle(make.agrement(), make.place(precision="housenumber", latitude=48.4461, longitude=1.4792))
    stored = repr([projection.rows(table) for table in ("fiches", "places", "communes")])
    assert make.birth_date not in stored and make.home_address not in stored and "Bâtiment B" not in stored
    assert "48.4461" not in stored  # the house-number pin; only the commune's point is kept


def test_modified_name_sends_updated(projection, make):
    projection.handle(make.agrement(), make.agrement("modified", at=60, last_name="Lefèvre-Durand"))
    assert _types(projection) == ["fiche.published", "fiche.updated"]
    assert projection.outbox()[1].data["changed_fields"] == ["last_name"]
    assert _fiche(projection)["last_name"] == "Lefèvre-Durand"


def test_a_change_the_public_does_not_see_sends_nothing(projection, make):
    projection.handle(make.agrement(), make.agrement("modified", at=60, circonscription="Chartres Sud"))
    assert _types(projection) == ["fiche.published"]


def test_temporary_stop_keeps_the_fiche_without_contact(projection, make):
    projection.handle(make.agrement(), make.agrement("modified", at=60, status="temporary_stop"))
    assert _types(projection) == ["fiche.published", "fiche.updated"]
    assert _fiche(projection)["contact"] is None
    assert _search(projection)["total"] == 1


def test_withdrawn_unpublishes_and_leaves_the_search(projection, make):
    projection.handle(make.agrement(), make.agrement("withdrawn", at=60, status="withdrawn"))
    unpublished = projection.outbox()[-1]
    assert unpublished.type == "fiche.unpublished"
    assert unpublished.data["reason"] == "withdrawn" and unpublished.data["kind"] == "assmat"
    assert _search(projection)["total"] == 0 and _fiche(projection) is None


def test_withdrawal_goes_through_even_with_a_field_it_does_not_need_broken(projection, make):
    projection.handle(make.agrement(), make.agrement("withdrawn", at=60, status="suspended", postcode="?"))
    assert projection.outbox()[-1].data["reason"] == "suspended"
    assert _search(projection)["total"] == 0


def test_opposition_publishes_nothing(projection, make):
    projection.handle(make.agrement(publication_opposed=True))
    assert _types(projection) == [] and _search(projection)["total"] == 0


def test_opposition_after_publication_unpublishes(projection, make):
    projection.handle(make.agrement(), make.agrement("modified", at=60, publication_opposed=True))
    assert projection.outbox()[-1].data["reason"] == "opposed"


def test_a_redelivered_event_is_applied_once(projection, make):
    granted = make.agrement()
    assert projection.handle(granted, granted) == [True, False]
    assert len(projection.rows("fiches")) == 1 and _types(projection) == ["fiche.published"]


def test_an_older_event_never_overwrites_a_newer_one(projection, make):
    projection.handle(make.agrement("modified", at=120, last_name="Durand"),
                      make.agrement("granted", at=0, last_name="Lefèvre"))
    assert _fiche(projection)["last_name"] == "Durand"
    assert _types(projection) == ["fiche.published"]


def test_a_withdrawal_then_an_older_modification_stays_withdrawn(projection, make):
    projection.handle(make.agrement(), make.agrement("withdrawn", at=120, status="withdrawn"),
                      make.agrement("modified", at=60, capacity_total=3))
    assert _search(projection)["total"] == 0
    assert _types(projection) == ["fiche.published", "fiche.unpublished"]


def test_place_located_before_granted_still_gives_coordinates(projection, make):
    projection.handle(make.place(at=5), make.agrement(at=0))
    assert _fiche(projection)["location"] == {"latitude": 48.443551, "longitude": 1.488282,
                                              "precision": "municipality"}


def test_place_located_after_publication_sends_updated(projection, make):
    projection.handle(make.agrement(), make.place(at=5))
    assert _types(projection) == ["fiche.published", "fiche.updated"]
    assert projection.outbox()[1].data["changed_fields"] == ["location"]


def test_an_older_location_is_ignored(projection, make):
    projection.handle(make.agrement(), make.place(at=60, latitude=48.5, longitude=1.5),
                      make.place(at=30, latitude=47.0, longitude=1.0))
    assert _fiche(projection)["location"]["latitude"] == 48.5


def test_moving_to_another_commune_moves_the_fiche(projection, make):
    projection.handle(make.agrement(), make.place(at=5),
                      make.agrement("modified", at=60, commune_insee="28209", postcode="28300"))
    assert _search(projection, "28085")["total"] == 0
    moved = _search(projection, "28209")
    assert moved["total"] == 1 and moved["commune"] == {"insee": "28209", "name": "Lèves"}
    assert moved["fiches"][0]["location"] is None  # the Chartres pin is stale until geo-svc locates her again


def test_an_unusable_agrement_is_refused_and_nothing_is_stored(projection, make):
    with pytest.raises(InvalidEvent):
        projection.handle(make.agrement(capacity_total="four"))
    assert projection.rows("fiches") == [] and projection.rows("inbox") == []


def test_the_sweep_unpublishes_lapsed_fiches_once(projection, make):
    projection.handle(make.agrement(validity_end=dt.date.today().isoformat()))
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    assert unpublish_lapsed(projection.session_factory, tomorrow) == 1
    assert unpublish_lapsed(projection.session_factory, tomorrow) == 0
    unpublished = projection.outbox()[-1]
    assert unpublished.type == "fiche.unpublished" and unpublished.data["reason"] == "expired"
