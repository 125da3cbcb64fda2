"""notify-svc: outgoing mail (templates, attempts, delivery log) and, in local runs, the sink that catches it."""
from __future__ import annotations

from flask import Flask

from services.db import check_database
from services.web import init_service_app


def create_app(settings=None) -> Flask:
    from notify.bootstrap import bootstrap
    from notify.settings import load_settings
    from notify.web import bp

    container = bootstrap(settings or load_settings())
    app = Flask(__name__)
    app.extensions["notify"] = container
    init_service_app(app, "notify-svc", {"database": lambda: check_database(container.engine)})
    app.register_blueprint(bp)
    return app
