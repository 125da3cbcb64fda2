"""agrement-svc: agréments imported from the PMI's system, and what assmats declare to the PMI."""
from __future__ import annotations

from flask import Flask

from services.web import create_service_app


def create_app(settings=None, container=None) -> Flask:
    from agrement.bootstrap import bootstrap
    from agrement.settings import load_settings
    from agrement.web import bp

    return create_service_app("agrement", "agrement-svc", container or bootstrap(settings or load_settings()), [bp])
