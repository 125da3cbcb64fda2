"""identity: accounts, credentials, e-mail confirmations, sessions and the signing keys of the portal."""
from __future__ import annotations

from flask import Flask

from services.db import check_database
from services.web import init_service_app


def create_app(settings=None) -> Flask:
    from identity.bootstrap import bootstrap
    from identity.settings import load_settings
    from identity.web import bp

    container = bootstrap(settings or load_settings())
    app = Flask(__name__)
    app.extensions["identity"] = container
    init_service_app(app, "identity", {"database": lambda: check_database(container.engine),
                                       "broker": container.bus.check})
    app.register_blueprint(bp)
    return app
