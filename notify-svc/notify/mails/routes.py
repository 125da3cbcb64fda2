"""The delivery log and bounce recording, for staff (a bearer token of identity with a staff role)."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, jsonify, request

from notify.adapters.orm import STATUSES
from notify.mails import queries
from notify.mails.delivery import mark_failing
from notify.mails.domain.messages import bare_address
from services.auth import require_token
from services.db import UnitOfWork
from services.web import ApiError

bp = Blueprint("mails", __name__)

# Who may read whom the portal wrote to: the PMI's central team and the portal's support.
LOG_ROLES = ("pmi_central", "support", "admin")


def _container():
    return current_app.extensions["notify"]


@bp.get("/api/mails")
@require_token(lambda: _container().verifier, roles=LOG_ROLES)
def delivery_log():
    args = request.args
    try:
        limit = int(args.get("limit", "100"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 500:
        raise ApiError(400, "invalid_limit", "« limit » doit être un nombre entre 1 et 500.")
    status = args.get("status") or None
    if status is not None and status not in STATUSES:
        raise ApiError(400, "invalid_status", f"« status » doit être l'un de : {', '.join(STATUSES)}.")
    since = None
    if args.get("since"):
        try:
            since = dt.datetime.fromisoformat(args["since"])
        except ValueError:
            raise ApiError(400, "invalid_since", "« since » doit être une date ISO 8601.") from None
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.timezone.utc)
    template = args.get("kind") or None
    if template is not None and (len(template) > 64 or not template.replace("_", "").isalnum()):
        raise ApiError(400, "invalid_kind", "« kind » n'est pas un type de courriel.")
    recipient = args.get("recipient") or None
    if recipient is not None and len(recipient) > 320:
        raise ApiError(400, "invalid_recipient", "« recipient » est trop long.")
    with UnitOfWork(_container().session_factory, read_only=True) as uow:
        rows = queries.delivery_log(uow.session, recipient=recipient, template=template, status=status,
                                    since=since, limit=limit)
    return jsonify({"mails": rows})


@bp.post("/api/mails/bounces")
@require_token(lambda: _container().verifier, roles=LOG_ROLES)
def record_bounce():
    """A bounce (a non-delivery report read by staff, or a mail server's webhook relayed by them): the address gets
    no more mail until it is changed."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "Le corps doit être un objet JSON.")
    address = bare_address(body.get("address"))
    if address is None:
        raise ApiError(400, "invalid_address", "« address » n'est pas une adresse électronique.")
    reason = " ".join(str(body.get("reason") or "").split())[:1000]
    if not reason:
        raise ApiError(400, "invalid_reason", "« reason » est obligatoire (le motif du rejet).")
    with UnitOfWork(_container().session_factory) as uow:
        mark_failing(uow.session, address, reason, "bounce")
        uow.commit()
        recorded = queries.failing(uow.session, address)
    return jsonify(recorded), 201
