"""notify-svc: outgoing mail (templates, attempts, delivery log) and, in local runs, the sink that catches it."""
from __future__ import annotations

from flask import Flask

from services.web import create_service_app


def create_app(settings=None) -> Flask:
    from notify.bootstrap import bootstrap
    from notify.settings import load_settings
    from notify.web import bp

    return create_service_app("notify", "notify-svc", bootstrap(settings or load_settings()), [bp])
