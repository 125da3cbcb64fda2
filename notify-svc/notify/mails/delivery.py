"""Sending the queued mails: each one handed to the server once, whatever crashes, outside any lock.

The event handler (consumers.py) only queues the mail: one row per event, its message composed, in the kernel's
transaction with the inbox mark. The senders (background threads of every worker) then move a row through
`queued → sending → committing → sent`, each step a short transaction of its own, the SMTP conversation between
them with no transaction open:

1. claim (`sending`, a random claim token, a lease), committed;
2. the SMTP conversation up to the whole message, but not its final ".";
3. `committing` (compare-and-set on the token), committed; only then the final "." (`ready()` of the transport);
4. the server's answer: `sent` (+ `mail.delivered`), or back to `queued` with a backoff (4xx, connection lost),
   or `failed` (+ `mail.failed`, the address marked failing) on 5xx or after the last retry.

A worker that dies leaves its row `sending` or `committing`; past the lease another sender finds it. `sending`
means the final "." never left: the server dropped the half-received mail, so sending it again is the first
delivery. `committing` means it may have left: the row becomes `unconfirmed` and is never sent again. The window
where a mail can be lost is the few microseconds between the `committing` commit and the write of ".\\r\\n" to the
socket; the window for a duplicate is none. See the README, "Delivery guarantees".
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import threading
import uuid
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from notify.adapters.orm import domain_pace, failing_addresses, mails
from notify.adapters.transport import Abandoned, PermanentFailure, Transport, TransportError, Unconfirmed
from notify.mails.domain.dkim import DkimSigner
from services.catalogue.notify import MAIL_DELIVERED, MAIL_FAILED
from services.db import UnitOfWork

log = logging.getLogger("notify.mails.delivery")


def parse_delays(value: str) -> list[float]:
    """"60,300,1800" → [60.0, 300.0, 1800.0]; ValueError when one is not a non-negative number."""
    delays = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            delay = float(part)
        except ValueError:
            raise ValueError(f"{part!r} is not a number of seconds") from None
        if delay < 0:
            raise ValueError(f"{part!r} is negative")
        delays.append(delay)
    return delays


def parse_pace(value: str) -> dict[str, float]:
    """"orange.fr=20,free.fr=20" (mails a minute) → {"orange.fr": 3.0, ...}, the seconds between two mails."""
    pace = {}
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        domain, equals, rate = part.partition("=")
        domain = domain.strip().lower()
        try:
            per_minute = float(rate)
        except ValueError:
            per_minute = 0
        if not equals or not domain or "." not in domain or per_minute <= 0:
            raise ValueError(f"{part!r} is not domain=mails-a-minute, e.g. orange.fr=20")
        pace[domain] = 60.0 / per_minute
    return pace


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclasses.dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    token: str
    template: str
    recipient: str
    cause_event_id: str
    attempts: int
    payload: bytes


@dataclasses.dataclass
class Sender:
    session_factory: Callable
    transport: Transport
    envelope_from: str
    retry_delays: list[float]
    lease: dt.timedelta = dt.timedelta(seconds=120)
    pace: dict[str, float] = dataclasses.field(default_factory=dict)
    signer: DkimSigner | None = None
    poll_seconds: float = 0.5
    batch: int = 1  # mails claimed at once: one claim transaction for several sends (NOTIFY_CLAIM_BATCH)

    @property
    def max_attempts(self) -> int:
        return len(self.retry_delays) + 1

    # -- claiming --------------------------------------------------------------------------------------------------
    def claim(self) -> Claimed | None:
        """The next mail due whose domain's pace allows it, now `sending` under a fresh token; None if none."""
        claimed = self.claim_many(1)
        return claimed[0] if claimed else None

    def claim_many(self, limit: int) -> list[Claimed]:
        """Up to `limit` mails due, `sending` under one fresh token, in one short transaction."""
        now = now_utc()
        # The process id first: the log says which worker holds a mail (tests kill that one); the rest is random.
        token = f"{os.getpid():x}-{uuid.uuid4().hex}"[:32]
        due = sa.or_(sa.and_(mails.c.status == "queued", mails.c.next_attempt_at <= now),
                     sa.and_(mails.c.status.in_(("sending", "committing")), mails.c.claimed_until < now))
        claimed: list[Claimed] = []
        with UnitOfWork(self.session_factory) as uow:
            session = uow.session
            if session.get_bind().dialect.name == "postgresql":
                # A claim lost with a PostgreSQL crash costs nothing: the worker's next step (`committing`) then
                # fails, before any final dot. So no fsync wait here; `committing` and the outcome keep theirs.
                session.execute(sa.text("SET LOCAL synchronous_commit = off"))
            candidates = session.execute(
                sa.select(mails.c.id, mails.c.status, mails.c.domain, mails.c.claim_token).where(due)
                .order_by(mails.c.next_attempt_at).limit(max(20, 2 * limit))
                .with_for_update(skip_locked=True)).all()
            paced_out: set[str] = set()
            for row in candidates:
                if len(claimed) >= limit:
                    break
                same = sa.and_(mails.c.id == row.id, mails.c.status == row.status,
                               mails.c.claim_token.is_(None) if row.claim_token is None
                               else mails.c.claim_token == row.claim_token)
                if row.status == "committing":
                    # Its worker stopped after (or while) sending the final ".": the server may have the mail.
                    if session.execute(mails.update().where(same).values(
                            status="unconfirmed", payload=None, claim_token=None, claimed_until=None,
                            last_error="le worker s'est arrêté après avoir transmis le message, sans réponse "
                                       "enregistrée du serveur : non renvoyé")).rowcount:
                        log.warning("mail unconfirmed after a worker stopped", extra={"mail_id": str(row.id)})
                    continue
                if row.domain in paced_out or not self._take_slot(session, row.domain, now):
                    paced_out.add(row.domain)
                    continue
                if row.status == "sending":
                    log.warning("mail taken over from a worker that stopped before the final dot",
                                extra={"mail_id": str(row.id)})
                if not session.execute(mails.update().where(same).values(
                        status="sending", claim_token=token, claimed_until=now + self.lease)).rowcount:
                    continue  # another sender took it meanwhile (SQLite has no SKIP LOCKED)
                mail = session.execute(sa.select(mails).where(mails.c.id == row.id)).one()
                claimed.append(Claimed(mail.id, token, mail.template, mail.recipient, mail.cause_event_id,
                                       mail.attempts, mail.payload))
            uow.commit()
        return claimed

    def _take_slot(self, session, domain: str | None, now: dt.datetime) -> bool:
        interval = self.pace.get(domain or "")
        if not interval:
            return True
        following = now + dt.timedelta(seconds=interval)
        if session.execute(domain_pace.update().where(domain_pace.c.domain == domain, domain_pace.c.next_at <= now)
                           .values(next_at=following)).rowcount:
            return True
        if session.execute(sa.select(domain_pace.c.domain).where(domain_pace.c.domain == domain)).first():
            return False
        try:
            with session.begin_nested():
                session.execute(domain_pace.insert().values(domain=domain, next_at=following))
        except IntegrityError:
            return False
        return True

    # -- sending ---------------------------------------------------------------------------------------------------
    def deliver(self, mail: Claimed) -> str:
        """Send one claimed mail; returns its new status (or "abandoned")."""
        if not mail.payload:  # never written by this code; a row edited by hand, say: fail it, do not loop
            return self._finish(mail, "failed", error=PermanentFailure("no message to send (payload empty)"))
        data = self.signer.sign(mail.payload) if self.signer else mail.payload

        def ready() -> None:
            with UnitOfWork(self.session_factory) as uow:
                moved = uow.session.execute(mails.update().where(
                    mails.c.id == mail.id, mails.c.status == "sending", mails.c.claim_token == mail.token)
                    .values(status="committing", claimed_until=now_utc() + self.lease)).rowcount
                uow.commit()
            if not moved:
                raise Abandoned()

        try:
            self.transport.deliver(data, self.envelope_from, mail.recipient, ready)
        except Abandoned:
            log.warning("mail abandoned: another worker took it over", extra={"mail_id": str(mail.id)})
            return "abandoned"
        except Unconfirmed as error:
            return self._finish(mail, "unconfirmed", error=error)
        except PermanentFailure as error:
            return self._finish(mail, "failed", error=error, address_failing=True)
        except TransportError as error:
            if mail.attempts + 1 >= self.max_attempts:
                return self._finish(mail, "failed", error=error)
            return self._finish(mail, "queued", error=error)
        return self._finish(mail, "sent")

    def _finish(self, mail: Claimed, status: str, *, error: TransportError | None = None,
                address_failing: bool = False) -> str:
        now = now_utc()
        attempts = mail.attempts + 1
        values: dict = {"status": status, "attempts": attempts, "claim_token": None, "claimed_until": None}
        if error is not None:
            values.update(last_error=str(error)[:2000], smtp_code=error.code)
        if status == "queued":
            values["next_attempt_at"] = now + dt.timedelta(seconds=self.retry_delays[attempts - 1])
        elif status in ("sent", "unconfirmed") or address_failing:
            values["payload"] = None  # the link it may carry has no business staying here
        # A `failed` row after its last retry is the dead letter: it keeps its message until `mails requeue` (or
        # the log's purge).
        if status == "sent":
            values["sent_at"] = now
        with UnitOfWork(self.session_factory) as uow:
            # Compare-and-set on the token: a row resolved meanwhile by another sender is left as it is.
            if not uow.session.execute(mails.update().where(
                    mails.c.id == mail.id, mails.c.claim_token == mail.token,
                    mails.c.status.in_(("sending", "committing"))).values(**values)).rowcount:
                log.warning("mail resolved by another sender meanwhile", extra={"mail_id": str(mail.id)})
                return "abandoned"
            payload = {"mail_id": str(mail.id), "template": mail.template, "cause_event_id": mail.cause_event_id}
            if status == "sent":
                uow.add_event(MAIL_DELIVERED.build(str(mail.id), payload))
            elif status == "failed":
                uow.add_event(MAIL_FAILED.build(str(mail.id), {**payload, "error": str(error)[:500]}))
            if address_failing:
                mark_failing(uow.session, mail.recipient, str(error)[:1000], "smtp", now)
            uow.commit()
        extra = {"mail_id": str(mail.id), "template": mail.template, "attempt": attempts, "status": status}
        if error is None:
            log.info("mail sent", extra=extra)
        else:
            log.warning("mail not sent", extra={**extra, "error": str(error)[:500]})
        return status

    # -- loops -----------------------------------------------------------------------------------------------------
    def run_once(self) -> str | None:
        mail = self.claim()
        return None if mail is None else self.deliver(mail)

    def run_batch(self, stop: threading.Event | None = None) -> int:
        """Claim up to `batch` mails, send them one after the other; how many were claimed. Asked to stop, the
        mails not started yet are handed back at once rather than at the end of their lease."""
        claimed = self.claim_many(self.batch)
        for position, mail in enumerate(claimed):
            if stop is not None and stop.is_set():
                self.release(claimed[position:])
                break
            self.deliver(mail)
        return len(claimed)

    def release(self, claimed: list[Claimed]) -> None:
        with UnitOfWork(self.session_factory) as uow:
            for mail in claimed:
                uow.session.execute(mails.update().where(
                    mails.c.id == mail.id, mails.c.claim_token == mail.token, mails.c.status == "sending")
                    .values(status="queued", claim_token=None, claimed_until=None))
            uow.commit()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                if not self.run_batch(stop):
                    stop.wait(self.poll_seconds)
            except Exception:
                # The database is down, most likely: the row stays claimed until its lease ends, then is retried.
                log.exception("sender failed, retrying")
                stop.wait(max(self.poll_seconds, 1.0))

    def drain(self, timeout: float = 30.0) -> int:
        """Send until nothing is due (tests, bench); returns how many mails were handled."""
        handled = 0
        deadline = now_utc() + dt.timedelta(seconds=timeout)
        while now_utc() < deadline:
            claimed = self.run_batch()
            if not claimed:
                return handled
            handled += claimed
        return handled


def mark_failing(session, address: str, reason: str, source: str, now: dt.datetime | None = None) -> None:
    address = address.strip().lower()
    now = now or now_utc()
    if session.execute(failing_addresses.update().where(failing_addresses.c.address == address)
                       .values(reason=reason, source=source, marked_at=now)).rowcount:
        return
    try:
        with session.begin_nested():
            session.execute(failing_addresses.insert().values(address=address, reason=reason, source=source,
                                                              marked_at=now))
    except IntegrityError:
        pass  # marked by another sender meanwhile


def is_failing(session, address: str) -> str | None:
    return session.execute(sa.select(failing_addresses.c.reason)
                           .where(failing_addresses.c.address == address.strip().lower())).scalar()


def requeue(session_factory, mail_id) -> bool:
    """Send a dead-lettered mail (failed after its retries, message kept) again, from a fresh count."""
    with UnitOfWork(session_factory) as uow:
        moved = uow.session.execute(mails.update().where(
            mails.c.id == mail_id, mails.c.status == "failed", mails.c.payload.is_not(None)).values(
            status="queued", attempts=0, next_attempt_at=now_utc(), last_error=None, smtp_code=None)).rowcount
        uow.commit()
    return bool(moved)


def purge_log(session_factory, older_than: dt.timedelta) -> int:
    """Forget the log of mails done longer ago than the retention (the queue's live rows stay)."""
    with UnitOfWork(session_factory) as uow:
        removed = uow.session.execute(mails.delete().where(
            mails.c.created_at < now_utc() - older_than,  # dead letters too, past the retention
            mails.c.status.in_(("sent", "failed", "unconfirmed")))).rowcount
        uow.commit()
    return removed
