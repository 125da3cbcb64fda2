"""The projection of agrément holders, fed through the kernel's inbox on a SQLite file."""
import datetime as dt

import pytest
import sqlalchemy as sa

from identity.adapters.orm import accounts, agrement_holders, metadata
from identity.accounts.domain.refusals import Refusal
from identity.holders.consumers import HANDLERS, project_agrement_holder
from services.catalogue import agrement as agrement_events
from services.db import make_engine, make_session_factory
from services.inbox import handle_once

T0 = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def session_factory(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'identity.sqlite3'}")
    metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


def holder(session_factory, pmi_number="123456"):
    with session_factory() as session:
        return session.execute(sa.select(agrement_holders).where(agrement_holders.c.pmi_number == pmi_number)) \
            .mappings().first()


def test_all_three_agrement_events_feed_the_projection():
    assert set(HANDLERS) == {"agrement.granted", "agrement.modified", "agrement.withdrawn"}


def test_granted_keeps_only_what_identity_needs(session_factory, make_agrement_event):
    handle_once(session_factory, project_agrement_holder,
                make_agrement_event("123456", first_name=" Marie ", phone="0600000000", email="m@orange.fr"))
    row = holder(session_factory)
    # The phone and the address stay out; the PMI's e-mail is kept only to warn of an activation elsewhere.
    assert dict(row) == {"pmi_number": "123456", "birth_date": dt.date(1980, 5, 17), "first_name": "Marie",
                         "last_name": "Dupont", "agrement_status": "active", "birth_name": row["birth_name"],
                         "email": "m@orange.fr", "validity_start": row["validity_start"],
                         "validity_end": row["validity_end"], "source_occurred_at": row["source_occurred_at"]}


def test_a_redelivered_event_is_handled_once(session_factory, make_agrement_event):
    event = make_agrement_event("123456")
    assert handle_once(session_factory, project_agrement_holder, event)
    assert not handle_once(session_factory, project_agrement_holder, event)


def test_modified_and_withdrawn_replace_the_whole_state(session_factory, make_agrement_event):
    handle_once(session_factory, project_agrement_holder, make_agrement_event("123456", occurred_at=T0))
    handle_once(session_factory, project_agrement_holder, make_agrement_event(
        "123456", agrement_events.AGREMENT_MODIFIED, occurred_at=T0 + dt.timedelta(days=1), last_name="Martin",
        birth_date="1980-05-18", status="temporary_stop"))
    assert (holder(session_factory)["last_name"], holder(session_factory)["birth_date"],
            holder(session_factory)["agrement_status"]) == ("Martin", dt.date(1980, 5, 18), "temporary_stop")
    handle_once(session_factory, project_agrement_holder, make_agrement_event(
        "123456", agrement_events.AGREMENT_WITHDRAWN, occurred_at=T0 + dt.timedelta(days=2), status="withdrawn"))
    assert holder(session_factory)["agrement_status"] == "withdrawn"


def test_an_older_event_delivered_late_changes_nothing(session_factory, make_agrement_event):
    handle_once(session_factory, project_agrement_holder, make_agrement_event(
        "123456", agrement_events.AGREMENT_WITHDRAWN, occurred_at=T0 + dt.timedelta(days=1), status="withdrawn"))
    handle_once(session_factory, project_agrement_holder, make_agrement_event("123456", occurred_at=T0))
    assert holder(session_factory)["agrement_status"] == "withdrawn"


def test_a_change_of_name_reaches_the_account(session_factory, make_agrement_event):
    handle_once(session_factory, project_agrement_holder, make_agrement_event("123456", occurred_at=T0))
    with session_factory() as session, session.begin():
        session.execute(accounts.insert().values(id="a1", role="assmat", pmi_number="123456", email="m@orange.fr",
                                                 display_name="Marie Dupont", status="active", created_at=T0))
    handle_once(session_factory, project_agrement_holder, make_agrement_event(
        "123456", agrement_events.AGREMENT_MODIFIED, occurred_at=T0 + dt.timedelta(days=1), last_name="Martin"))
    with session_factory() as session:
        assert session.execute(sa.select(accounts.c.display_name)).scalar() == "Marie Martin"


@pytest.mark.parametrize("pmi_number, birth_date", [("123456", "17/05/1980"), ("12", "1980-05-17")])
def test_a_malformed_event_fails_and_leaves_nothing_behind(session_factory, make_agrement_event, pmi_number,
                                                          birth_date):
    event = make_agrement_event(pmi_number, birth_date=birth_date)
    with pytest.raises((ValueError, Refusal)):
        handle_once(session_factory, project_agrement_holder, event)
    assert holder(session_factory, pmi_number) is None
    # Not recorded as handled either: the consumer's retries, then its dead-letter queue, take it from here.
    with pytest.raises((ValueError, Refusal)):
        handle_once(session_factory, project_agrement_holder, event)


def test_a_batch_is_projected_in_one_call_the_last_state_of_each_holder_winning(session_factory,
                                                                                make_agrement_event):
    """What the worker runs: the manifest's batch handler through the kernel's inbox, events with sequences."""
    import dataclasses

    from identity.service import MANIFEST
    from services.inbox import handle_batch

    with session_factory() as session, session.begin():
        session.execute(accounts.insert().values(id="a1", role="assmat", pmi_number="123456", email="m@orange.fr",
                                                 display_name="Marie Dupont", status="active", created_at=T0))
    now = dt.datetime.now(dt.timezone.utc)
    events = [dataclasses.replace(event, sequence=number) for number, event in enumerate([
        make_agrement_event("123456", occurred_at=now),
        make_agrement_event("654321", first_name="Zoé", occurred_at=now),
        make_agrement_event("123456", agrement_events.AGREMENT_MODIFIED, last_name="Martin", occurred_at=now),
        make_agrement_event("123456", agrement_events.AGREMENT_WITHDRAWN, last_name="Martin", status="withdrawn",
                            occurred_at=now)], start=1)]
    subscriptions = MANIFEST.subscriptions(container=None)
    assert handle_batch(session_factory, subscriptions, events) == 4
    assert (holder(session_factory)["last_name"], holder(session_factory)["agrement_status"]) == ("Martin",
                                                                                                 "withdrawn")
    assert holder(session_factory, "654321")["first_name"] == "Zoé"
    with session_factory() as session:
        assert session.execute(sa.select(accounts.c.display_name)).scalar() == "Marie Martin"
    # The granted event delivered again later, with its old sequence: older than what is applied, it changes nothing.
    late = dataclasses.replace(make_agrement_event("123456", occurred_at=now), sequence=1)
    assert handle_batch(session_factory, subscriptions, [late]) == 0
    assert holder(session_factory)["agrement_status"] == "withdrawn"
