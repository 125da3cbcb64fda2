"""fiche-svc: the public fiches of assmats (later MAM and RPE) and the search index."""
from __future__ import annotations

from flask import Flask

from services.db import check_database
from services.web import init_service_app


def create_app(settings=None) -> Flask:
    from fiche.bootstrap import bootstrap
    from fiche.settings import load_settings
    from fiche.web import bp

    container = bootstrap(settings or load_settings())
    app = Flask(__name__)
    app.extensions["fiche"] = container
    init_service_app(app, "fiche-svc", {"database": lambda: check_database(container.engine),
                                        "broker": container.bus.check})
    app.register_blueprint(bp)
    return app
