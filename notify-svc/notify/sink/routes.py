"""notify-svc's HTTP side: the pages and API of the local mail sink, which exist only in local runs and tests."""
from __future__ import annotations

import itertools

from flask import Blueprint, abort, current_app, jsonify, render_template, request
from markupsafe import Markup, escape

from notify.adapters.transport import SinkMessage, SinkTransport, link_spans
from notify.mails.domain.rendering import in_paris
from services.web import ApiError

bp = Blueprint("sink", __name__, template_folder="templates")

PAGE_SIZE = 200
# Mail HTML is shown only in a sandboxed iframe that inherits this policy: no script, no remote image, no form.
_PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; " \
               "form-action 'none'; frame-ancestors 'none'"


def _sink() -> SinkTransport:
    sink = current_app.extensions["notify"].sink
    if sink is None:
        abort(404)
    return sink


@bp.before_request
def _local_runs_only():
    _sink()


@bp.after_request
def _protect(response):
    response.headers["Content-Security-Policy"] = _PAGE_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.app_template_filter("linkify")
def linkify(text: str) -> Markup:
    """The text escaped, its web links made clickable."""
    html, position = Markup(), 0
    for start, end in link_spans(text):
        link = text[start:end]
        html += escape(text[position:start]) + Markup('<a href="{0}" rel="noopener noreferrer">{0}</a>').format(link)
        position = end
    return html + escape(text[position:])


@bp.app_template_filter("paris_time")
def paris_time(moment) -> str:
    return in_paris(moment).strftime("%d/%m/%Y %H:%M:%S") if moment else "date inconnue"


@bp.get("/sink")
def sink_page():
    return render_template("sink/list.html", messages=list(itertools.islice(_sink().messages(), PAGE_SIZE)),
                           page_size=PAGE_SIZE)


@bp.get("/sink/<message_id>")
def sink_message_page(message_id: str):
    message = _sink().get(message_id)
    if message is None:
        raise ApiError(404, "mail_not_found", "Ce message n'est pas (ou plus) dans la boîte de test.")
    return render_template("sink/message.html", message=message)


@bp.get("/api/sink/messages")
def list_messages():
    """Newest first; `to` keeps the mails sent to that address (any case), `limit` caps the list (50, at most 500)."""
    to = (request.args.get("to") or "").strip().lower()
    if len(to) > 320:
        raise ApiError(400, "invalid_to", "« to » doit être une adresse e-mail.")
    try:
        limit = int(request.args.get("limit", 50))
    except ValueError:
        raise ApiError(400, "invalid_limit", "« limit » doit être un nombre entier.") from None
    if not 1 <= limit <= 500:
        raise ApiError(400, "invalid_limit", "« limit » doit être compris entre 1 et 500.")
    found = (message for message in _sink().messages() if not to or message.to.lower() == to)
    return jsonify([_message_json(message) for message in itertools.islice(found, limit)])


@bp.delete("/api/sink/messages")
def clear_messages():
    return jsonify(deleted=_sink().clear())


def _message_json(message: SinkMessage) -> dict:
    return {"id": message.id, "to": message.to, "subject": message.subject,
            "date": message.date.isoformat() if message.date else None, "text": message.text,
            "links": message.links}
