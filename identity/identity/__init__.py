"""identity: accounts, credentials, e-mail confirmations, sessions and the signing keys of the portal."""
from __future__ import annotations

from flask import Flask

from services.web import create_service_app


def create_app(settings=None) -> Flask:
    from identity.bootstrap import bootstrap
    from identity.settings import load_settings
    from identity.web import bp

    return create_service_app("identity", "identity", bootstrap(settings or load_settings()), [bp])
