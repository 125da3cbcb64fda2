"""A fiche is public while its agrément is in force (CASF L421-1, L421-3; D421-12 grants it for a period): from
validity_start to validity_end. The searches follow the dates on the day they run; the worker's sweeps announce
what the day changed. On SQLite and on PostgreSQL."""
import dataclasses
import datetime as dt
import threading

import pytest

from fiche.projection.commands import publish_started, unpublish_lapsed
from fiche.projection.domain.agrement import agrement_state
from fiche.projection.domain.publication import today, unpublished_reason
from fiche.search import queries

DAY = dt.timedelta(days=1)


def _days(offset: int) -> str:
    return (today() + offset * DAY).isoformat()


def _visible(projection, on: dt.date, insee_code: str = "28085") -> list[str]:
    """The fiches the search shows on that day; reading them one by one shows the same."""
    every = _fiche_ids(projection)
    with projection.session_factory() as session:
        found = queries.search(session, insee_code=insee_code, query=None, on=on, page=1, per_page=50)
        ids = [fiche["id"] for fiche in found["fiches"]]
        assert found["total"] == len(ids)
        assert [fiche_id for fiche_id in every if queries.get_public_fiche(session, fiche_id, on) is not None] == \
            sorted(ids)
        return sorted(ids)


def _fiche_ids(projection) -> list[str]:
    return sorted(row["fiche_id"] for row in projection.rows("fiches"))


def _published(projection) -> list[str]:
    return [event.subject for event in projection.outbox() if event.type == "fiche.published"]


def test_an_agrement_starting_tomorrow_is_neither_shown_nor_announced(each_projection, make):
    each_projection.handle(make.agrement(validity_start=_days(1)))
    assert each_projection.outbox() == []
    assert _visible(each_projection, today()) == []
    with each_projection.session_factory() as session:  # nor found by its commune's name or postcode
        assert queries.search(session, insee_code=None, query="Chartres", on=today(), page=1, per_page=20)["total"] == 0
        assert queries.communes_with_fiches(session, "28000", today(), 10) == []


def test_it_is_searched_from_its_first_day_and_the_sweep_announces_it_once(each_projection, make):
    each_projection.handle(make.agrement(validity_start=_days(1)))
    [fiche_id] = _fiche_ids(each_projection)
    first_day = today() + DAY
    assert _visible(each_projection, first_day) == [fiche_id]  # before any sweep: the search reads the dates
    assert publish_started(each_projection.session_factory, today()) == 0
    assert publish_started(each_projection.session_factory, first_day) == 1
    assert publish_started(each_projection.session_factory, first_day) == 0
    [published] = each_projection.outbox()
    assert published.type == "fiche.published" and published.subject == fiche_id
    assert published.data == {"fiche_id": fiche_id, "kind": "assmat", "commune_insee": "28085"}


def test_the_sweep_publishes_only_what_the_rule_allows(each_projection, make):
    each_projection.handle(
        make.agrement(pmi_number="100001", validity_start=_days(1)),
        make.agrement(pmi_number="100002", validity_start=_days(1), publication_opposed=True),  # CASF D421-15
        make.agrement(pmi_number="100003", validity_start=_days(1), status="suspended"),
        make.agrement(pmi_number="100004", validity_start=_days(1), status="temporary_stop"),
        make.agrement(pmi_number="100005", validity_start=_days(1), validity_end=_days(2)),
        make.agrement(pmi_number="100006", validity_start=_days(5)),
        make.agrement(pmi_number="100007"),  # in force already: announced when granted
    )
    assert len(_published(each_projection)) == 1
    ids = {row["pmi_number"]: row["fiche_id"] for row in each_projection.rows("fiches")}
    assert publish_started(each_projection.session_factory, today() + DAY) == 3
    assert set(_published(each_projection)[1:]) == {ids["100001"], ids["100004"], ids["100005"]}
    # The two-day agrément lapses on the third day (not published again), the one starting in five days starts.
    assert unpublish_lapsed(each_projection.session_factory, today() + 3 * DAY) == 1
    assert publish_started(each_projection.session_factory, today() + 3 * DAY) == 0
    assert publish_started(each_projection.session_factory, today() + 5 * DAY) == 1
    assert _published(each_projection)[-1] == ids["100006"]


def test_a_start_moved_to_later_unpublishes_until_that_day(each_projection, make):
    each_projection.handle(make.agrement(), make.agrement("modified", at=60, validity_start=_days(3)))
    [published, unpublished] = each_projection.outbox()
    assert (published.type, unpublished.type) == ("fiche.published", "fiche.unpublished")
    assert unpublished.data["reason"] == "not_started"
    assert _visible(each_projection, today()) == []
    assert _visible(each_projection, today() + 3 * DAY) == _fiche_ids(each_projection)


def test_an_event_on_the_first_day_announces_it_and_the_sweep_does_not_again(each_projection, make):
    each_projection.handle(make.agrement(validity_start=_days(0)))
    assert publish_started(each_projection.session_factory, today()) == 0
    assert len(_published(each_projection)) == 1


def test_sweeps_running_at_once_announce_each_fiche_once(each_projection, make):
    each_projection.handle(*(make.agrement(pmi_number=f"2000{n:02d}", validity_start=_days(1)) for n in range(30)))
    counts, errors = [], []

    def sweep():
        try:
            counts.append(publish_started(each_projection.session_factory, today() + DAY, batch_size=7))
        except Exception as error:  # reported below: a thread's exception would otherwise be lost
            errors.append(error)

    threads = [threading.Thread(target=sweep) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and sum(counts) == 30
    assert sorted(_published(each_projection)) == _fiche_ids(each_projection)


@pytest.mark.parametrize("status, opposed, start, end", [
    ("active", False, -10, 10), ("active", False, 0, 10), ("active", False, 1, 10), ("active", False, -10, 0),
    ("active", False, -10, -1), ("temporary_stop", False, 1, 10), ("active", True, -10, 10),
    ("withdrawn", False, -10, 10), ("active", False, None, None),
])
def test_the_search_and_the_rule_agree_from_the_event_on(each_projection, make, status, opposed, start, end):
    """Before and after the worker's sweeps of each day (searches run on today's date, never on a past one)."""
    data = make.agrement_data(status=status, publication_opposed=opposed,
                              validity_start=None if start is None else _days(start),
                              validity_end=None if end is None else _days(end))
    each_projection.handle(make.agrement(**{key: data[key] for key in (
        "status", "publication_opposed", "validity_start", "validity_end")}))
    state = agrement_state(data)
    for offset in (0, 1, 2, 9, 10, 11):
        on = today() + offset * DAY
        public = unpublished_reason(state, on) is None
        assert bool(_visible(each_projection, on)) is public, (offset, dataclasses.asdict(state))
        unpublish_lapsed(each_projection.session_factory, on)
        publish_started(each_projection.session_factory, on)
        assert bool(_visible(each_projection, on)) is public, (offset, "after the sweeps")
        [row] = each_projection.rows("fiches")
        assert bool(row["published"]) is public  # and the other services were told
