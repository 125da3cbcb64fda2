"""Local runs only: the mail sink of notify-svc, read through the gateway (activation links land there)."""
from __future__ import annotations

import re

from flask import Blueprint, abort, make_response

from gateway.bootstrap import current

bp = Blueprint("dev", __name__, url_prefix="/dev/mails")

SINK_PATH = re.compile(r"[A-Za-z0-9_./-]{0,200}")
# Mails are HTML written for mail clients: their inline styles are allowed here, scripts still are not.
SINK_POLICY = ("default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "frame-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'")


@bp.get("", defaults={"subpath": ""})
@bp.get("/<path:subpath>")
def mails(subpath: str):
    container = current()
    if not container.settings.is_local or not SINK_PATH.fullmatch(subpath) or ".." in subpath:
        abort(404)
    html, content_type = container.clients.notify.sink_page(subpath)
    # The sink links its own pages as /sink/...; through the gateway they live under /dev/mails/...
    html = re.sub(r"""(href|src|action)=(["'])/sink\b""", r"\1=\2/dev/mails", html)
    response = make_response(html)
    response.headers["Content-Type"] = content_type
    response.headers["Content-Security-Policy"] = SINK_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response
