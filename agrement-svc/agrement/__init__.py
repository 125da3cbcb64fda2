"""agrement-svc: agréments imported from the PMI's system, and what assmats declare to the PMI."""
from __future__ import annotations

from flask import Flask

from services.db import check_database
from services.web import init_service_app


def create_app(settings=None, container=None) -> Flask:
    from agrement.bootstrap import bootstrap
    from agrement.settings import load_settings
    from agrement.web import bp

    container = container or bootstrap(settings or load_settings())
    app = Flask(__name__)
    app.extensions["agrement"] = container
    init_service_app(app, "agrement-svc", {"database": lambda: check_database(container.engine),
                                           "broker": container.bus.check})
    app.register_blueprint(bp)
    return app
