"""agrement-svc: agréments imported from the PMI's system, and what assmats declare to the PMI."""
from __future__ import annotations

from flask import Flask


def create_app(settings=None, container=None) -> Flask:
    """`container` lets API tests hand in one they prepared (a clock, a fixed verifier)."""
    from agrement.service import MANIFEST
    from services.manifest import create_app as create_service_app

    return create_service_app(MANIFEST, settings, container=container)
