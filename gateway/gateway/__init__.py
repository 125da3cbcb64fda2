"""gateway: the web portal (public site, espace pro) and the API gateway in front of the services."""
from __future__ import annotations

from flask import Flask

from services.web import init_service_app


def create_app(settings=None) -> Flask:
    from gateway import browser, errors, presentation
    from gateway.bootstrap import bootstrap
    from gateway.settings import load_settings
    from gateway.web import api, dev, pro, public

    container = bootstrap(settings or load_settings())
    app = Flask(__name__)
    app.extensions["gateway"] = container
    init_service_app(app, "gateway", container.clients.readiness())
    browser.init_app(app, container.settings)
    errors.init_app(app)
    presentation.init_app(app, container.settings)
    for blueprint in (public.bp, pro.bp, api.bp, dev.bp):
        app.register_blueprint(blueprint)
    return app
