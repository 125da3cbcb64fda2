"""The gateway declared once: web pages and the JSON API in front of the services. It keeps no database,
consumes and publishes no event, so it has no worker and nothing to migrate."""
from __future__ import annotations

from gateway.bootstrap import bootstrap
from gateway.settings import Settings, load_settings
from services.manifest import ServiceManifest


def _blueprints():
    # One per capability: a new capability adds its module here.
    from gateway.web import (
        agrement_tab, api, backoffice, captcha, contracts, dev, franceconnect, geolocation, pro, public, recovery,
        security, staff)
    return [public.bp, pro.bp, api.bp, dev.bp, captcha.bp, security.bp, recovery.bp, staff.bp, franceconnect.bp,
            geolocation.bp, contracts.bp, agrement_tab.bp, backoffice.bp]


def _init_app(app, container) -> None:
    from gateway import browser, errors, presentation
    browser.init_app(app, container.settings, container)
    errors.init_app(app)
    presentation.init_app(app, container.settings)


MANIFEST = ServiceManifest(
    name="gateway",
    folder="gateway",
    summary="gateway: the public site, the espace pro and the JSON API in front of the services",
    settings=Settings,
    load_settings=load_settings,
    container=bootstrap,
    blueprints=_blueprints,
    init_app=_init_app,
    readiness=lambda container: container.clients.readiness(),
    default_port=8000,
    has_worker=False,
)
