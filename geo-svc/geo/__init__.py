"""geo-svc: the communes reference and the coordinates of every place of practice."""
from __future__ import annotations

from flask import Flask

from services.web import create_service_app


def create_app(settings=None) -> Flask:
    from geo.bootstrap import bootstrap
    from geo.settings import load_settings
    from geo.web import bp

    return create_service_app("geo", "geo-svc", bootstrap(settings or load_settings()), [bp])
