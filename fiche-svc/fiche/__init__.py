"""fiche-svc: the public fiches of assmats (later MAM and RPE) and the search index."""
from __future__ import annotations

from flask import Flask

from services.web import create_service_app


def create_app(settings=None) -> Flask:
    from fiche.bootstrap import bootstrap
    from fiche.settings import load_settings
    from fiche.web import bp

    return create_service_app("fiche", "fiche-svc", bootstrap(settings or load_settings()), [bp])
