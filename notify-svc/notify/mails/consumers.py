"""What notify-svc does with the events it consumes: one mail queued per event, in the event's own transaction.

The handler renders and composes the mail and inserts its row (`queued`, the message in `payload`) in the
transaction where the kernel records the event in the inbox: both are committed together or not at all, so an
event delivered twice queues one mail. No network here: the senders (notify.mails.delivery) send the queued rows
outside any transaction. Data that would make a wrong mail (not an address, a template value missing) raises
InvalidEvent: the bus dead-letters the event at once with the reason, no retry loop.

Events that name the person without her address (report.*, correction.decided) take it from the address book
(notify.addresses); when nobody's address is known the mail is skipped and logged with the reason: no row, no
retry, no dead letter (waiting would not bring an address).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import uuid
from email import policy
from email.headerregistry import Address
from typing import Callable, Mapping

import jinja2
import sqlalchemy as sa

from notify.addresses.projection import address_for, record_activation, record_email_changed
from notify.adapters.orm import mails
from notify.mails.delivery import is_failing
from notify.mails.domain.alerts import Skipped, capacity_exceeded, late_declaration, over_capacity_declared
from notify.mails.domain.messages import (
    Draft, activation_address_replaced, activation_elsewhere_notice, compose, correction_decided, email_changed,
    email_confirmation, password_changed, password_reset, report_step)
from notify.mails.domain.rendering import render
from services.catalogue import EventSpec
from services.catalogue.agrement import (
    CAPACITY_EXCEEDED, CONTRACT_DECLARED, OVER_CAPACITY_DECLARED, REPORT_RECEIVED, REPORT_STATUS_CHANGED)
from services.catalogue.geo import CORRECTION_DECIDED
from services.catalogue.identity import (
    ACCOUNT_ACTIVATED, ACTIVATION_ADDRESS_REPLACED, ACTIVATION_ELSEWHERE_NOTICE, EMAIL_CHANGED,
    EMAIL_CONFIRMATION_REQUESTED, PASSWORD_CHANGED, PASSWORD_RESET_REQUESTED)
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
    REPORT_RECEIVED: report_step,
    REPORT_STATUS_CHANGED: report_step,
    CORRECTION_DECIDED: correction_decided,
}

# Alerts to the circonscriptions (agrement-svc's declarations): their composers also take the mailboxes
# (NOTIFY_CIRCONSCRIPTION_ADDRESSES) and the portal's base URL, bound by make_handlers.
ALERTS: dict[EventSpec, Callable[..., Draft]] = {
    CONTRACT_DECLARED: late_declaration,
    CAPACITY_EXCEEDED: capacity_exceeded,
    OVER_CAPACITY_DECLARED: over_capacity_declared,
}

# identity's events that feed the address book (email_changed is a mail too: both, in one transaction).
ADDRESS_BOOK: dict[EventSpec, Callable[[UnitOfWork, Event], None]] = {
    ACCOUNT_ACTIVATED: record_activation,
    EMAIL_CHANGED: record_email_changed,
}

# Every event notify consumes, for the manifest.
CONSUMED: tuple[EventSpec, ...] = tuple(dict.fromkeys([*MAILS, *ALERTS, *ADDRESS_BOOK]))


def mail_id_for(event_id: str) -> uuid.UUID:
    return uuid.uuid5(MAIL_NAMESPACE, event_id)


def queue_mail(uow: UnitOfWork, event: Event, *, spec: EventSpec, composer: Callable[[Mapping], Draft],
               sender: Address) -> None:
    if not spec.matches(event):  # a producer changing version publishes both: mail the one this code knows
        log.info("event version not handled", extra={"event_type": event.type, "version": event.version})
        return
    spec.check(event.data)
    try:
        draft = composer(event.data)
    except Skipped as skipped:  # not to be mailed (a declaration on time, a circonscription without mailbox)
        log.log(logging.WARNING if skipped.warning else logging.INFO, "mail skipped: not to be mailed", extra={
            "event_type": event.type, "cause_event_id": event.id, "reason": str(skipped)})
        return
    if not draft.recipient:
        draft = _addressed(uow, event, draft)
        if draft is None:
            return
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


def _addressed(uow: UnitOfWork, event: Event, draft: Draft) -> Draft | None:
    """The draft sent to the address the book knows (`draft.lookup`), or None, logged as skipped with the reason,
    when none is known: nothing to retry, nobody to tell, so neither a row nor a dead letter."""
    by, value = draft.lookup or ("", "")
    recipient = address_for(uow.session, **{by: value}) if by in ("account_id", "pmi_number") and value else None
    if recipient is None:
        log.warning("mail skipped: no address known", extra={
            "template": draft.template, "cause_event_id": event.id, "event_type": event.type,
            "reason": f"no address in the event nor in the address book for this {by or 'person'}"})
        return None
    return dataclasses.replace(draft, recipient=recipient)


def _both(uow: UnitOfWork, event: Event, *, first: Handler, then: Handler) -> None:
    first(uow, event)
    then(uow, event)


def make_handlers(sender: Address, *, mailboxes: Mapping[str, str] | None = None,
                  base_url: str = "http://127.0.0.1:8000") -> dict[str, Handler]:
    """`mailboxes`: the circonscriptions' addresses (notify.mails.domain.alerts.parse_mailboxes); none: every alert
    is skipped with a log line."""
    composers: dict[EventSpec, Callable[[Mapping], Draft]] = {
        **MAILS, **{spec: functools.partial(composer, mailboxes=dict(mailboxes or {}), base_url=base_url)
                    for spec, composer in ALERTS.items()}}
    handlers: dict[str, Handler] = {
        spec.type: functools.partial(queue_mail, spec=spec, composer=composer, sender=sender)
        for spec, composer in composers.items()}
    for spec, record in ADDRESS_BOOK.items():
        # The book is fed from the version it knows; other versions leave it alone (as the mails do).
        def project(uow, event, spec=spec, record=record):
            if spec.matches(event):
                record(uow, event)
        handlers[spec.type] = (functools.partial(_both, first=handlers[spec.type], then=project)
                               if spec.type in handlers else project)
    return handlers
