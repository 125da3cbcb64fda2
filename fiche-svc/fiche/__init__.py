"""fiche-svc: the public fiches of assmats (later MAM and RPE) and the search index."""
from __future__ import annotations

from flask import Flask


def create_app(settings=None) -> Flask:
    from fiche.service import MANIFEST
    from services.manifest import create_app as create_service_app

    return create_service_app(MANIFEST, settings)
