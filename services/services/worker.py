"""A service's worker process: the event consumer and the outbox relay, stopped cleanly by SIGTERM/SIGINT."""
from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from typing import Mapping

from sqlalchemy.orm import sessionmaker

from services.bus import Bus, ServiceConsumer, each_event
from services.events import Event
from services import inbox
from services.inbox import Handler, handle_once
from services.outbox import OutboxRelay
from services.settings import BaseSettings

log = logging.getLogger("services.worker")


def dispatcher(session_factory: sessionmaker, handlers: Mapping[str, Handler]):
    """The consumer callback: route an event to its handler, once per event id."""
    def dispatch(event: Event) -> None:
        handler = handlers.get(event.type)
        if handler is None:  # bound by mistake or left over from an older binding: nothing to do
            log.info("event without handler ignored", extra={"event_type": event.type})
            return
        handle_once(session_factory, handler, event)
    return dispatch


def housekeeping(relay: OutboxRelay, session_factory: sessionmaker, settings: BaseSettings,
                 stop: threading.Event, every_seconds: float = 600) -> None:
    """Prune sent events and old inbox ids now and then, so neither table keeps personal data or grows forever."""
    while not stop.is_set():
        now = dt.datetime.now(dt.timezone.utc)
        try:
            sent = relay.prune(now - dt.timedelta(hours=settings.outbox_retention_hours))
            seen = inbox.prune(session_factory, now - dt.timedelta(hours=settings.inbox_retention_hours))
            if sent or seen:
                log.info("pruned", extra={"outbox_rows": sent, "inbox_rows": seen})
        except Exception:
            log.exception("housekeeping failed")
        stop.wait(every_seconds)


def run_worker(service: str, settings: BaseSettings, session_factory: sessionmaker,
               handlers: Mapping[str, Handler], stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())

    relay = OutboxRelay(session_factory, Bus(settings.broker_url, settings.bus_namespace))
    relay_thread = threading.Thread(target=relay.run_forever, args=(stop, settings.outbox_poll_seconds),
                                    name="outbox-relay", daemon=True)
    relay_thread.start()
    threading.Thread(target=housekeeping, args=(relay, session_factory, settings, stop), name="housekeeping",
                     daemon=True).start()
    log.info("worker started", extra={"handles": sorted(handlers)})
    if handlers:
        consumer = ServiceConsumer(Bus(settings.broker_url, settings.bus_namespace), service, handlers.keys(),
                                   each_event(dispatcher(session_factory, handlers)), settings.retry_delays_ms)
        consumer.run_until(stop)
    stop.wait()
    relay_thread.join(timeout=10)
    log.info("worker stopped")
