"""A service's worker process: the event consumer, the outbox relay, the status beat, housekeeping and the
service's background tasks, stopped cleanly by SIGTERM/SIGINT. Derived from the service's manifest."""
from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable, Iterable, Mapping

from sqlalchemy.orm import sessionmaker

from services import inbox
from services.bus import Bus, ServiceConsumer
from services.health import WorkerStatus
from services.inbox import Subscription
from services.outbox import OutboxRelay
from services.settings import BaseSettings

log = logging.getLogger("services.worker")


class _ConsumerState:
    """What the consumer last said about itself (starting, consuming, paused, failed), for the status beat."""

    def __init__(self, has_consumer: bool):
        self.state, self.detail = ("starting", "") if has_consumer else ("none", "")

    def __call__(self, state: str, detail: str = "") -> None:
        if (state, detail) != (self.state, self.detail):
            log.log(logging.WARNING if state in ("paused", "failed") else logging.INFO, "consumer %s", state,
                    extra={"detail": detail})
        self.state, self.detail = state, detail


def _every(seconds: float, stop: threading.Event, name: str, work: Callable[[], object]) -> threading.Thread:
    def loop():
        while not stop.is_set():
            try:
                work()
            except Exception:  # logged; the next round tries again
                log.exception("%s failed", name)
            stop.wait(seconds)
    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    return thread


def housekeeping(relay: OutboxRelay, session_factory: sessionmaker, settings: BaseSettings) -> None:
    """Prune sent events and old inbox ids, so neither table keeps personal data or grows forever."""
    now = dt.datetime.now(dt.timezone.utc)
    sent = relay.prune(now - dt.timedelta(hours=settings.outbox_retention_hours))
    seen = inbox.prune(session_factory, now - dt.timedelta(hours=settings.inbox_retention_hours))
    if sent or seen:
        log.info("pruned", extra={"outbox_rows": sent, "inbox_rows": seen})


def serve_events(service: str, settings: BaseSettings, session_factory: sessionmaker,
                 subscriptions: Mapping[str, Subscription], stop: threading.Event | None = None, *,
                 background: Iterable[Callable[[threading.Event], None]] = ()) -> None:
    """Relay this service's outbox and consume its queue until `stop` is set (or SIGTERM/SIGINT)."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())

    relay = OutboxRelay(session_factory, Bus(settings.broker_url, settings.bus_namespace),
                        max_attempts=settings.outbox_max_attempts)
    relay_thread = threading.Thread(target=relay.run_forever, args=(stop, settings.outbox_poll_seconds),
                                    name="outbox-relay", daemon=True)
    relay_thread.start()
    consumer_state = _ConsumerState(bool(subscriptions))
    status = WorkerStatus(session_factory, service)
    _every(settings.worker_status_seconds, stop, "status",
           lambda: status.beat(consumer_state.state, consumer_state.detail, relay.state, relay.detail))
    _every(600, stop, "housekeeping", lambda: housekeeping(relay, session_factory, settings))
    for task in background:
        threading.Thread(target=task, args=(stop,), name=getattr(task, "__name__", "background"),
                         daemon=True).start()
    log.info("worker started", extra={"handles": sorted(subscriptions)})
    if subscriptions:
        retention = dt.timedelta(hours=settings.inbox_retention_hours)
        consumer = ServiceConsumer(
            Bus(settings.broker_url, settings.bus_namespace), service, subscriptions.keys(),
            lambda events: inbox.handle_batch(session_factory, subscriptions, events, retention=retention),
            settings.retry_delays_ms, prefetch=settings.consumer_prefetch, batch_size=settings.consumer_batch_size,
            on_state=consumer_state)
        consumer.run_until(stop)
    stop.wait()
    relay_thread.join(timeout=10)
    status.forget()
    log.info("worker stopped")


def run_worker(manifest, settings: BaseSettings, stop: threading.Event | None = None, container=None) -> None:
    """The worker of the service `manifest` declares: its hooks, its background tasks, its consumer and relay."""
    container = container if container is not None else manifest.container(settings)
    stop = stop or threading.Event()
    for prepare in manifest.before_consuming:
        prepare(container)
    background = [lambda stop_event, task=task: task(container, stop_event) for task in manifest.background]
    serve_events(manifest.name, settings, container.session_factory, manifest.subscriptions(container), stop,
                 background=background)
