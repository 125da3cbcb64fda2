"""What notify-svc does with the events it consumes: one mail per event, handed to the transport, logged.

Delivery is at least once. The kernel runs a handler and records the event id (inbox) in one transaction, acked
after the commit. Here the mail is sent inside that transaction and marked sent with its `mail.delivered` event:
- send fails: the failure is committed on its own (attempts, last_error) and the error raised, so the bus retries
  with backoff; the delivery that fails for the last time also records `mail.failed`, then the bus dead-letters;
- send succeeds but the commit fails (or the worker dies before it): nothing says the mail went, the bus delivers
  the event again and the person gets the mail twice. A duplicate is the price of never losing a mail.
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
import uuid
from email.headerregistry import Address
from typing import Callable, Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from notify.adapters.orm import mails
from notify.adapters.transport import Transport, TransportError
from notify.mails.domain.messages import (
    Draft, activation_address_replaced, activation_elsewhere_notice, compose, email_changed, email_confirmation,
    password_changed, password_reset)
from notify.mails.domain.rendering import Rendered, render
from services.catalogue import EventSpec
from services.catalogue.identity import (
    ACTIVATION_ADDRESS_REPLACED, ACTIVATION_ELSEWHERE_NOTICE, EMAIL_CHANGED, EMAIL_CONFIRMATION_REQUESTED,
    PASSWORD_CHANGED, PASSWORD_RESET_REQUESTED)
from services.catalogue.notify import MAIL_DELIVERED, MAIL_FAILED
from services.db import UnitOfWork
from services.events import Event
from services.inbox import Handler

log = logging.getLogger("notify.mails.consumers")

# Each event that must reach a person, and how to write its mail.
MAILS: dict[EventSpec, Callable[[Mapping], Draft]] = {
    EMAIL_CONFIRMATION_REQUESTED: email_confirmation,
    ACTIVATION_ADDRESS_REPLACED: activation_address_replaced,
    ACTIVATION_ELSEWHERE_NOTICE: activation_elsewhere_notice,
    PASSWORD_RESET_REQUESTED: password_reset,
    PASSWORD_CHANGED: password_changed,
    EMAIL_CHANGED: email_changed,
}


def send_mail(uow: UnitOfWork, event: Event, *, spec: EventSpec, composer: Callable[[Mapping], Draft],
              transport: Transport, sender: Address, max_attempts: int) -> None:
    if not spec.matches(event):  # a producer changing version publishes both: mail the one this code knows
        log.info("event version not handled", extra={"event_type": event.type, "version": event.version})
        return
    spec.check(event.data)
    draft = composer(event.data)
    rendered = render(draft.template, draft.context)
    mail_id, status, attempts = _claim(uow.session, event.id, draft, rendered, uuid.uuid4())
    if status == "sent":  # the inbox already prevents this; the unique cause is the second lock on the door
        return
    now = dt.datetime.now(dt.timezone.utc)
    try:
        transport.send(compose(mail_id, sender, draft, rendered, now))
    except TransportError as error:
        _record_failure(uow, event, draft, rendered, mail_id, error, max_attempts)
        raise
    uow.session.execute(mails.update().where(mails.c.id == mail_id).values(
        status="sent", attempts=attempts + 1, sent_at=now))
    uow.add_event(MAIL_DELIVERED.build(str(mail_id), {
        "mail_id": str(mail_id), "template": draft.template, "cause_event_id": event.id}))
    log.info("mail sent", extra={"mail_id": str(mail_id), "template": draft.template, "cause_event_id": event.id})


def _claim(session: Session, cause_event_id: str, draft: Draft, rendered: Rendered,
           new_id: uuid.UUID) -> tuple[uuid.UUID, str, int]:
    """The mail row of this event, created (queued) on its first delivery: (id, status, attempts)."""
    row = session.execute(sa.select(mails.c.id, mails.c.status, mails.c.attempts)
                          .where(mails.c.cause_event_id == cause_event_id)).first()
    if row is not None:
        return row.id, row.status, row.attempts
    session.execute(mails.insert().values(
        id=new_id, template=draft.template, recipient=draft.recipient, subject=rendered.subject,
        cause_event_id=cause_event_id, status="queued", attempts=0, created_at=dt.datetime.now(dt.timezone.utc)))
    return new_id, "queued", 0


def _record_failure(uow: UnitOfWork, event: Event, draft: Draft, rendered: Rendered, mail_id: uuid.UUID,
                    error: TransportError, max_attempts: int) -> None:
    # Roll back first: the inbox mark must go (the event has to come back), and on SQLite this transaction holds
    # the write lock. Then keep what we learnt in a transaction of its own.
    uow.session.rollback()
    mail_id, _, attempts = _claim(uow.session, event.id, draft, rendered, mail_id)
    attempts += 1
    failed = attempts >= max_attempts  # the bus gives up after this delivery: say so while we still can
    uow.session.execute(mails.update().where(mails.c.id == mail_id).values(
        attempts=attempts, last_error=str(error)[:2000], status="failed" if failed else "queued"))
    if failed:
        uow.add_event(MAIL_FAILED.build(str(mail_id), {
            "mail_id": str(mail_id), "template": draft.template, "cause_event_id": event.id,
            "error": str(error)[:500]}))
    uow.commit()
    log.warning("mail not sent", extra={"mail_id": str(mail_id), "template": draft.template, "attempt": attempts,
                                        "final": failed, "error": str(error)[:500]})


def make_handlers(transport: Transport, sender: Address, max_attempts: int) -> dict[str, Handler]:
    return {spec.type: functools.partial(send_mail, spec=spec, composer=composer, transport=transport,
                                         sender=sender, max_attempts=max_attempts)
            for spec, composer in MAILS.items()}
