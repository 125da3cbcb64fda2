"""identity: accounts, credentials, e-mail confirmations, sessions and the signing keys of the portal."""
from __future__ import annotations

from flask import Flask


def create_app(settings=None) -> Flask:
    from identity.service import MANIFEST
    from services.manifest import create_app as create_service_app

    return create_service_app(MANIFEST, settings)
