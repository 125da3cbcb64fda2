"""notify-svc: outgoing mail (templates, attempts, delivery log) and, in local runs, the sink that catches it."""
from __future__ import annotations

from flask import Flask


def create_app(settings=None) -> Flask:
    from notify.service import MANIFEST
    from services.manifest import create_app as create_service_app

    return create_service_app(MANIFEST, settings)
