"""geo-svc: the communes reference and the coordinates of every place of practice."""
from __future__ import annotations

from flask import Flask


def create_app(settings=None, container=None) -> Flask:
    from geo.service import MANIFEST
    from services.manifest import create_app as create_service_app

    return create_service_app(MANIFEST, settings, container=container)
