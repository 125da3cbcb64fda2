"""Consumption on PostgreSQL and on SQLite: a batch in one transaction, duplicates skipped, an ordered projection
never moved back to an older state, and an event too old for the inbox to remember refused instead of applied
twice."""
from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import uuid

import pytest
import sqlalchemy as sa

from services.db import kernel_tables, make_engine, make_session_factory
from services.events import Event, InvalidEvent
from services.inbox import INBOX, EventTooOld, Subscription, handle_batch, handle_once, prune
from services.ordering import is_newer, last_sequence, newer_events

metadata = sa.MetaData()
kernel_tables(metadata)
fiches = sa.Table("fiches", metadata, sa.Column("subject", sa.String(50), primary_key=True),
                  sa.Column("name", sa.String(50), nullable=False))
effects = sa.Table("effects", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                   sa.Column("event_id", sa.String(36), nullable=False))


@pytest.fixture(params=["postgres", "sqlite"])
def session_factory(request, tmp_path):
    if request.param == "postgres":
        url = request.getfixturevalue("real_servers").database(f"inbox_{uuid.uuid4().hex[:6]}")
    else:
        url = f"sqlite:///{tmp_path / 'svc.sqlite3'}"
    engine = make_engine(url)
    metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


def event(subject: str = "280001", sequence: int | None = None, name: str = "Lefèvre",
          type_: str = "agrement.modified", producer: str = "agrement-svc", days_ago: float = 0) -> Event:
    occurred_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days_ago)
    return Event(type=type_, version=1, subject=subject, data={"name": name}, producer=producer,
                 sequence=sequence, occurred_at=occurred_at.isoformat())


def project(uow, e: Event) -> None:
    """A state projection: the fiche shows the last name it was told."""
    table = fiches
    if uow.session.execute(sa.select(table.c.subject).where(table.c.subject == e.subject)).first():
        uow.session.execute(table.update().where(table.c.subject == e.subject).values(name=e.data["name"]))
    else:
        uow.session.execute(table.insert().values(subject=e.subject, name=e.data["name"]))


def note(uow, e: Event) -> None:
    uow.session.execute(effects.insert().values(event_id=e.id))


def names(session_factory) -> dict[str, str]:
    with session_factory() as session:
        return dict(session.execute(sa.select(fiches.c.subject, fiches.c.name)).all())


def count(session_factory, table: sa.Table) -> int:
    with session_factory() as session:
        return session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


ORDERED = {"agrement.modified": Subscription(project, ordered=True)}


def test_an_ordered_projection_is_not_moved_back_by_an_older_event_delivered_late(session_factory):
    """Operators saw a fiche show an older name: a retried older event arrived after the newer one."""
    newer, older = event(sequence=20, name="Martin"), event(sequence=10, name="Lefèvre")
    assert handle_batch(session_factory, ORDERED, [newer]) == 1
    assert handle_batch(session_factory, ORDERED, [older]) == 0
    assert names(session_factory) == {"280001": "Martin"}
    assert handle_batch(session_factory, ORDERED, [event(sequence=20, name="Autre")]) == 0, "equal is not newer"
    assert handle_batch(session_factory, ORDERED, [event(sequence=21, name="Durand")]) == 1
    assert names(session_factory) == {"280001": "Durand"}
    assert count(session_factory, INBOX) == 4, "skipped events are handled: a redelivery is a duplicate"


def test_order_is_kept_per_producer_and_subject_and_unordered_subscriptions_apply_everything(session_factory):
    assert handle_batch(session_factory, ORDERED, [
        event("a", 5, "A5"), event("b", 1, "B1"), event("a", 3, "A3"),
        event("a", 4, "autre producteur", producer="other-svc"), event("c", None, "sans séquence"),
        event("c", None, "sans séquence, encore")]) == 5
    assert names(session_factory) == {"a": "autre producteur", "b": "B1", "c": "sans séquence, encore"}
    unordered = {"agrement.modified": Subscription(note)}
    assert handle_batch(session_factory, unordered, [event("a", 1), event("a", 2)]) == 2


def test_is_newer_records_the_highest_sequence_per_stream(session_factory):
    with session_factory() as session, session.begin():
        assert is_newer(session, event("s", 7)) and last_sequence(session, "s", "agrement-svc") == 7
        assert not is_newer(session, event("s", 6))
        assert is_newer(session, event("s", 6), stream="identity.holders"), "another stream, its own order"
        assert is_newer(session, event("s", None))
        assert last_sequence(session, "s", "agrement-svc") == 7
        assert last_sequence(session, "s", "identity.holders") == 6


def test_a_batch_decides_as_one_event_after_the_other(session_factory):
    """newer_events decides a batch at once: it must agree with is_newer applied in the batch's order, for subjects
    already known and subjects never seen, even when a subject's events come out of order within the batch."""
    assert handle_batch(session_factory, ORDERED, [event("known", 4, "K4"), event("skipped", 9, "S9")]) == 2
    batch = [event("known", 5, "K5"), event("known", 3, "K3"), event("known", 7, "K7"), event("known", 6, "K6"),
             event("new", 2, "N2"), event("new", 1, "N1"), event("new", 8, "N8"),
             event("skipped", 9, "S9 again"), event("skipped", 8, "S8"), event("none", None, "sans séquence")]
    applied = []
    recording = {"agrement.modified": Subscription(lambda uow, e: (applied.append(e.data["name"]), project(uow, e)),
                                                   ordered=True)}
    assert handle_batch(session_factory, recording, batch) == 5
    assert applied == ["K5", "K7", "N2", "N8", "sans séquence"], "applied in the batch's order"
    assert names(session_factory) == {"known": "K7", "new": "N8", "skipped": "S9", "none": "sans séquence"}
    with session_factory() as session:
        assert [last_sequence(session, subject, "agrement-svc") for subject in ("known", "new", "skipped")] == [
            7, 8, 9]
        assert last_sequence(session, "none", "agrement-svc") is None


def test_newer_events_keeps_each_stream_apart(session_factory):
    with session_factory() as session, session.begin():
        first, second = event("s", 5), event("s", 5)
        assert newer_events(session, [(first, None), (second, "identity.holders")]) == {first.id, second.id}
        assert newer_events(session, [(event("s", 5), None)]) == set()
        assert last_sequence(session, "s", "identity.holders") == 5


def test_a_batch_costs_a_few_statements_whatever_its_size(session_factory):
    """One statement per event for the inbox and one for the order were most of a consumer's round trips."""
    engine = session_factory.kw["bind"]
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        quiet = {"agrement.modified": Subscription(lambda uow, e: None, ordered=True)}
        assert handle_batch(session_factory, quiet, [event(f"s{n}", n + 1) for n in range(200)]) == 200
        first = len(statements)
        statements.clear()
        assert handle_batch(session_factory, quiet, [event(f"s{n}", n + 2) for n in range(200)]) == 200
        known = len(statements)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert first <= 3, "subjects never seen: the inbox, the order"
    assert known <= 5, "subjects known: the inbox, the order (insert, locking read, update)"


def test_a_batch_handler_gets_its_events_of_the_batch_in_one_call(session_factory):
    """A projection that writes a batch's rows in a few statements is called once, with the events it must apply:
    duplicates and older events left out, in the batch's order, at the place of the first one."""
    assert handle_batch(session_factory, ORDERED, [event("a", 5, "A5")]) == 1
    calls = []

    def project_all(uow, events):
        calls.append(("batch", [e.data["name"] for e in events]))
        for e in events:
            project(uow, e)

    def each(uow, e):
        calls.append(("each", e.data["name"]))
        note(uow, e)

    together = Subscription(project_all, ordered=True, batch=True)
    subscriptions = {"agrement.modified": together, "agrement.granted": together,
                     "mail.delivered": Subscription(each)}
    repeated = event("b", 1, "B1", type_="agrement.granted")
    batch = [event(type_="mail.delivered", name="M1"), repeated, event("a", 4, "A4 older"), repeated,
             event(type_="mail.delivered", name="M2"), event("a", 6, "A6"), event("b", 2, "B2")]
    assert handle_batch(session_factory, subscriptions, batch) == 5
    assert calls == [("each", "M1"), ("batch", ["B1", "A6", "B2"]), ("each", "M2")]
    assert names(session_factory) == {"a": "A6", "b": "B2"}
    assert handle_batch(session_factory, subscriptions, [repeated]) == 0 and len(calls) == 3, "nothing to call"


def test_a_batch_is_one_transaction_that_skips_duplicates_and_unsubscribed_types(session_factory):
    first, second = event("a", name="A"), event("b", name="B")
    subscriptions = {"agrement.modified": Subscription(note)}
    assert handle_batch(session_factory, subscriptions, [first, first, event(type_="mail.delivered"), second]) == 2
    assert handle_batch(session_factory, subscriptions, [first, second]) == 0
    assert count(session_factory, effects) == 2

    def fails_on_c(uow, e):
        note(uow, e)
        if e.subject == "c":
            raise RuntimeError("cannot handle c")

    with pytest.raises(RuntimeError):
        handle_batch(session_factory, {"agrement.modified": Subscription(fails_on_c)},
                     [event("d"), event("c"), event("e")])
    assert count(session_factory, effects) == 2 and count(session_factory, INBOX) == 2, "nothing of that batch"


def test_an_event_older_than_the_inbox_retention_is_refused_not_applied_again(session_factory):
    """Operators saw a dead-lettered event replayed after 30 days applied a second time: the inbox had forgotten
    its id."""
    retention = dt.timedelta(days=30)
    handled_long_ago = event(name="Ancien", days_ago=31)
    with pytest.raises(EventTooOld, match="too old to know whether it was already handled") as refused:
        handle_batch(session_factory, ORDERED, [event(name="Récent"), handled_long_ago], retention=retention)
    assert isinstance(refused.value, InvalidEvent), "the bus dead-letters it at once"
    assert names(session_factory) == {} and count(session_factory, INBOX) == 0, "the whole batch rolled back"
    assert handle_batch(session_factory, ORDERED, [event(name="Récent", days_ago=29)], retention=retention) == 1


def test_an_old_event_the_inbox_still_remembers_is_a_quiet_duplicate(session_factory):
    old = event(name="Ancien", days_ago=31)
    assert handle_once(session_factory, note, old), "handle_once applies history as before"
    assert handle_batch(session_factory, {old.type: Subscription(note)}, [old],
                        retention=dt.timedelta(days=30)) == 0


def test_the_default_retention_is_the_inbox_settings_default(session_factory):
    with pytest.raises(EventTooOld):
        handle_batch(session_factory, ORDERED, [event(days_ago=31)])
    garbled = dataclasses.replace(event(), occurred_at="hier")
    with pytest.raises(InvalidEvent, match="occurred_at"):
        handle_batch(session_factory, ORDERED, [garbled])


def test_prune_still_forgets_old_ids(session_factory):
    handle_once(session_factory, note, event())
    assert prune(session_factory, dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=5)) == 1


@pytest.mark.parametrize("known", [False, True], ids=["subject never seen", "subject known"])
def test_two_consumers_of_one_subject_at_once_end_on_the_newest_state(request, tmp_path, known):
    """On PostgreSQL two workers may apply a subject's events concurrently: the older one, whichever commits
    last, must not win; whether the subject is new (both insert its order row) or known (both lock it)."""
    url = request.getfixturevalue("real_servers").database(f"race_{uuid.uuid4().hex[:6]}")
    engine = make_engine(url)
    metadata.create_all(engine)
    session_factory = make_session_factory(engine)
    if known:
        assert handle_batch(session_factory, ORDERED, [event(sequence=1, name="Premier")]) == 1
    newer_holds_its_row, older_may_go = threading.Event(), threading.Event()

    def slow_project(uow, e):
        project(uow, e)
        newer_holds_its_row.set()
        older_may_go.wait(10)

    outcome = {}
    newer = threading.Thread(target=lambda: outcome.setdefault("newer", handle_batch(
        session_factory, {"agrement.modified": Subscription(slow_project, ordered=True)},
        [event(sequence=9, name="Martin")])))
    newer.start()
    assert newer_holds_its_row.wait(10)
    older = threading.Thread(target=lambda: outcome.setdefault("older", handle_batch(
        session_factory, ORDERED, [event("other", sequence=2, name="Autre"), event(sequence=3, name="Lefèvre")])))
    older.start()
    older.join(timeout=1)
    assert older.is_alive(), "the older event waits for the newer one's transaction"
    older_may_go.set()
    newer.join(timeout=10)
    older.join(timeout=10)
    assert outcome == {"newer": 1, "older": 1}, "the older batch applies only its other subject"
    assert names(session_factory) == {"280001": "Martin", "other": "Autre"}
    engine.dispose()
