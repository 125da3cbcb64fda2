"""gateway: the web portal (public site, espace pro) and the API gateway in front of the services."""
from __future__ import annotations

from flask import Flask

from services.web import create_service_app


def create_app(settings=None) -> Flask:
    from gateway import browser, errors, presentation
    from gateway.bootstrap import bootstrap
    from gateway.settings import load_settings
    from gateway.web import api, dev, pro, public

    container = bootstrap(settings or load_settings())
    app = create_service_app("gateway", "gateway", container, [public.bp, pro.bp, api.bp, dev.bp],
                             readiness=container.clients.readiness())
    browser.init_app(app, container.settings)
    errors.init_app(app)
    presentation.init_app(app, container.settings)
    return app
