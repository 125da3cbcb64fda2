"""The worker's sending threads and log purge, and the commands `python -m notify mails ...`."""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import threading
import uuid

from notify.mails.delivery import mark_failing, purge_log, requeue
from notify.mails.domain.messages import bare_address
from services.db import UnitOfWork

log = logging.getLogger("notify.mails.commands")


def deliver_mails(container, stop: threading.Event) -> None:
    """A background task of the worker: NOTIFY_SENDERS threads send the queued mails."""
    threads = []
    for number in range(max(1, container.settings.senders)):
        sender = container.mail_sender()
        thread = threading.Thread(target=sender.run, args=(stop,), name=f"mail-sender-{number}", daemon=True)
        thread.start()
        threads.append(thread)
    stop.wait()
    for thread in threads:
        thread.join(timeout=container.settings.smtp_timeout_seconds)


def purge_delivery_log(container, stop: threading.Event) -> None:
    """A background task of the worker: forget the log of mails older than NOTIFY_LOG_RETENTION_DAYS, hourly."""
    retention = dt.timedelta(days=container.settings.log_retention_days)
    while not stop.is_set():
        try:
            removed = purge_log(container.session_factory, retention)
            if removed:
                log.info("delivery log purged", extra={"mails": removed})
        except Exception:
            log.exception("delivery log purge failed, will retry")
        stop.wait(3600)


def mails_command(settings, argv) -> int:
    """python -m notify mails bounce ADDRESS --reason ... | purge | send-due"""
    from notify.bootstrap import bootstrap

    parser = argparse.ArgumentParser(prog="python -m notify mails")
    verbs = parser.add_subparsers(dest="verb", required=True)
    bounce = verbs.add_parser("bounce", help="record a bounce: the address gets no more mail")
    bounce.add_argument("address")
    bounce.add_argument("--reason", required=True)
    verbs.add_parser("purge", help="forget the log past NOTIFY_LOG_RETENTION_DAYS now")
    requeue_verb = verbs.add_parser("requeue", help="send a dead-lettered (failed) mail again")
    requeue_verb.add_argument("mail_id")
    send = verbs.add_parser("send-due", help="send the mails due, then stop (no bus needed)")
    send.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    container = bootstrap(settings)
    if args.verb == "bounce":
        address = bare_address(args.address)
        reason = " ".join(args.reason.split())[:1000]
        if address is None or not reason:
            print("une adresse électronique et un motif sont nécessaires", file=sys.stderr)
            return 2
        with UnitOfWork(container.session_factory) as uow:
            mark_failing(uow.session, address, reason, "bounce")
            uow.commit()
        print(f"{address}: marquée en échec ({reason})")
        return 0
    if args.verb == "requeue":
        try:
            mail_id = uuid.UUID(args.mail_id)
        except ValueError:
            print(f"{args.mail_id!r} n'est pas un identifiant de courriel", file=sys.stderr)
            return 2
        if not requeue(container.session_factory, mail_id):
            print("aucun courriel en échec avec son message sous cet identifiant", file=sys.stderr)
            return 1
        print(f"{mail_id}: remis en file")
        return 0
    if args.verb == "purge":
        print(purge_log(container.session_factory, dt.timedelta(days=settings.log_retention_days)))
        return 0
    print(container.mail_sender().drain(args.timeout))
    return 0


def bench_command(settings, argv) -> int:
    from notify.bench import run
    return run(argv)
