"""An account's role and status; beside them, credentials (what a person types or receives) and refusals.

Rules only: no Flask, no SQLAlchemy session, no kombu.
"""
from __future__ import annotations

# Only assmat accounts exist today; MAM, RPE and staff accounts will be other roles of the same table.
ASSMAT = "assmat"
PENDING_EMAIL, ACTIVE = "pending_email", "active"
