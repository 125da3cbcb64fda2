"""geo-svc: the communes reference and the coordinates of every place of practice."""
from __future__ import annotations

from flask import Flask

from services.db import check_database
from services.web import init_service_app


def create_app(settings=None) -> Flask:
    from geo.bootstrap import bootstrap
    from geo.settings import load_settings
    from geo.web import bp

    container = bootstrap(settings or load_settings())
    app = Flask(__name__)
    app.extensions["geo"] = container
    init_service_app(app, "geo-svc", {"database": lambda: check_database(container.engine),
                                      "broker": container.bus.check})
    app.register_blueprint(bp)
    return app
