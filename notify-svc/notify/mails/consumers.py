"""What notify-svc does with the events it consumes: one mail queued per event, in the event's own transaction.

The handler renders and composes the mail and inserts its row (`queued`, the message in `payload`) in the
transaction where the kernel records the event in the inbox: both are committed together or not at all, so an
event delivered twice queues one mail. No network here: the senders (notify.mails.delivery) send the queued rows
outside any transaction. Data that would make a wrong mail (not an address, a template value missing) raises
InvalidEvent: the bus dead-letters the event at once with the reason, no retry loop.
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
import uuid
from email import policy
from email.headerregistry import Address
from typing import Callable, Mapping

import jinja2
import sqlalchemy as sa

from notify.adapters.orm import mails
from notify.mails.delivery import is_failing
from notify.mails.domain.messages import (
    Draft, activation_address_replaced, activation_elsewhere_notice, compose, email_changed, email_confirmation,
    password_changed, password_reset)
from notify.mails.domain.rendering import render
from services.catalogue import EventSpec
from services.catalogue.identity import (
    ACTIVATION_ADDRESS_REPLACED, ACTIVATION_ELSEWHERE_NOTICE, EMAIL_CHANGED, EMAIL_CONFIRMATION_REQUESTED,
    PASSWORD_CHANGED, PASSWORD_RESET_REQUESTED)
from services.catalogue.notify import MAIL_FAILED
from services.db import UnitOfWork
from services.events import Event, InvalidEvent
from services.inbox import Handler

log = logging.getLogger("notify.mails.consumers")

# The Message-ID and the mail's id derive from the event: every attempt, by any worker, carries the same one.
MAIL_NAMESPACE = uuid.UUID("6f1c9a52-3c0e-4d0b-9a7e-2b8f5d1e4a10")

# Each event that must reach a person, and how to write its mail.
MAILS: dict[EventSpec, Callable[[Mapping], Draft]] = {
    EMAIL_CONFIRMATION_REQUESTED: email_confirmation,
    ACTIVATION_ADDRESS_REPLACED: activation_address_replaced,
    ACTIVATION_ELSEWHERE_NOTICE: activation_elsewhere_notice,
    PASSWORD_RESET_REQUESTED: password_reset,
    PASSWORD_CHANGED: password_changed,
    EMAIL_CHANGED: email_changed,
}


def mail_id_for(event_id: str) -> uuid.UUID:
    return uuid.uuid5(MAIL_NAMESPACE, event_id)


def queue_mail(uow: UnitOfWork, event: Event, *, spec: EventSpec, composer: Callable[[Mapping], Draft],
               sender: Address) -> None:
    if not spec.matches(event):  # a producer changing version publishes both: mail the one this code knows
        log.info("event version not handled", extra={"event_type": event.type, "version": event.version})
        return
    spec.check(event.data)
    draft = composer(event.data)
    try:
        rendered = render(draft.template, draft.context)
    except jinja2.UndefinedError as error:  # a value the template needs is missing: never a mail with a blank
        raise InvalidEvent(f"template {draft.template}: {error.message}") from None
    session = uow.session
    if session.execute(sa.select(mails.c.id).where(mails.c.cause_event_id == event.id)).first():
        return  # the inbox already prevents this; the unique cause is the second lock on the door
    now = dt.datetime.now(dt.timezone.utc)
    mail_id = mail_id_for(event.id)
    message = compose(mail_id, sender, draft, rendered, now)
    failing = is_failing(session, draft.recipient)
    session.execute(mails.insert().values(
        id=mail_id, template=draft.template, recipient=draft.recipient, subject=rendered.subject,
        cause_event_id=event.id, created_at=now, message_id=str(message["Message-ID"]),
        domain=draft.recipient.rpartition("@")[2].lower(), next_attempt_at=now, attempts=0,
        status="failed" if failing else "queued",
        last_error=f"adresse en échec, non envoyé : {failing}"[:2000] if failing else None,
        payload=None if failing else message.as_bytes(policy=policy.SMTP)))
    if failing:
        uow.add_event(MAIL_FAILED.build(str(mail_id), {
            "mail_id": str(mail_id), "template": draft.template, "cause_event_id": event.id,
            "error": f"address failing: {failing}"[:500]}))
        log.warning("mail not queued: address failing", extra={"mail_id": str(mail_id), "template": draft.template})
        return
    log.info("mail queued", extra={"mail_id": str(mail_id), "template": draft.template, "cause_event_id": event.id})


def make_handlers(sender: Address) -> dict[str, Handler]:
    return {spec.type: functools.partial(queue_mail, spec=spec, composer=composer, sender=sender)
            for spec, composer in MAILS.items()}
