"""What staff see of the defences: `GET /api/security/summary` (roles support, admin, pmi_central)."""
from __future__ import annotations

from flask import jsonify

from identity.audit.queries import security_summary
from identity.web import blueprint, current_container, unit_of_work
from services.auth import require_token

bp = blueprint("security", __name__)

STAFF_ROLES = ("support", "admin", "pmi_central")


@bp.get("/api/security/summary")
@require_token(lambda: current_container().verifier, roles=STAFF_ROLES)
def summary():
    container = current_container()
    live = container.throttle.failures_this_minute()
    with unit_of_work(read_only=True) as uow:
        return jsonify(security_summary(uow, container.clock(), container.throttle.spike_threshold, live))
