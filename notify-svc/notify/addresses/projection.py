"""The address book, a projection of identity's events: an account's PMI number and the address it uses.

Fed by identity.account_activated (its optional `email`, the active account's address; absent from events
published before the field existed) and identity.email_changed (the address it had is no longer hers: forgotten,
since the event does not carry the new one). Each event is applied to a row only if it is newer than the one the
row holds (`updated` = the event's occurred_at), so a late redelivery never brings an old address back; an older
event may still fill a PMI number the row lacks (a number never changes for an account).
"""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa

from notify.adapters.orm import address_book
from notify.mails.domain.messages import bare_address
from services.db import UnitOfWork
from services.events import Event, InvalidEvent

log = logging.getLogger("notify.addresses")


def _occurred(event: Event) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(event.occurred_at)
    except (TypeError, ValueError):
        raise InvalidEvent(f"occurred_at {event.occurred_at!r} is not an ISO 8601 moment") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)  # SQLite gives naive UTC back


def _account_id(event: Event) -> str:
    account_id = str(event.data.get("account_id") or "").strip()
    if not account_id or len(account_id) > 36:
        raise InvalidEvent(f"{event.type}: account_id {account_id!r} is not an account id")
    return account_id


def _current(uow: UnitOfWork, account_id: str):
    # FOR UPDATE on PostgreSQL: two events of one account handled at once apply one after the other.
    return uow.session.execute(sa.select(address_book).where(address_book.c.account_id == account_id)
                               .with_for_update()).mappings().first()


def record_activation(uow: UnitOfWork, event: Event) -> None:
    """identity.account_activated: the account, its PMI number and (when the event has it) its address."""
    account_id, at = _account_id(event), _occurred(event)
    pmi_number = str(event.data.get("pmi_number") or "").strip()[:32] or None
    raw = event.data.get("email")
    email = bare_address(raw)
    if raw and email is None:
        log.warning("address book: activation address not usable, kept none", extra={"account_id": account_id})
    row = _current(uow, account_id)
    if row is None:
        uow.session.execute(address_book.insert().values(
            account_id=account_id, pmi_number=pmi_number, email=email, updated=at))
    elif _aware(row["updated"]) < at:
        uow.session.execute(address_book.update().where(address_book.c.account_id == account_id).values(
            pmi_number=pmi_number or row["pmi_number"], email=email, updated=at))
    elif pmi_number and not row["pmi_number"]:
        uow.session.execute(address_book.update().where(address_book.c.account_id == account_id)
                            .values(pmi_number=pmi_number))


def record_email_changed(uow: UnitOfWork, event: Event) -> None:
    """identity.email_changed: the previous address is no longer the account's. The event does not carry the new
    one, so the book forgets the address (no mail rather than a mail to a box she left)."""
    account_id, at = _account_id(event), _occurred(event)
    row = _current(uow, account_id)
    if row is None:
        uow.session.execute(address_book.insert().values(account_id=account_id, email=None, updated=at))
    elif _aware(row["updated"]) < at:
        uow.session.execute(address_book.update().where(address_book.c.account_id == account_id)
                            .values(email=None, updated=at))


def address_for(session, *, account_id: str | None = None, pmi_number: str | None = None) -> str | None:
    """The address the book knows for that account, or for the account of that PMI number (the most recently
    updated if, against expectations, two carry it); None when none is known (or it was forgotten)."""
    query = sa.select(address_book.c.email)
    if account_id:
        query = query.where(address_book.c.account_id == account_id)
    elif pmi_number:
        query = query.where(address_book.c.pmi_number == pmi_number)
    else:
        return None
    return session.execute(query.order_by(address_book.c.updated.desc()).limit(1)).scalar()
