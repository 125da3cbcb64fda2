"""gateway: the web portal (public site, espace pro) and the API gateway in front of the services."""
from __future__ import annotations

from flask import Flask


def create_app(settings=None) -> Flask:
    from gateway.service import MANIFEST
    from services.manifest import create_app as create_service_app

    return create_service_app(MANIFEST, settings)
