"""notify-svc's worker: mails what the consumed events ask for and relays mail.delivered / mail.failed.

Run as many as the mail volume needs: the queue gives each event to one of them.
"""
from __future__ import annotations

import threading

from notify.bootstrap import bootstrap
from notify.settings import Settings
from services.worker import run_worker


def run(settings: Settings, stop: threading.Event | None = None) -> None:
    container = bootstrap(settings)
    run_worker("notify", settings, container.session_factory, container.handlers(), stop=stop)
