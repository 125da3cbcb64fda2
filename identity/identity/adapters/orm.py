"""identity's tables.

`accounts` is shaped for every kind of account to come: `role` says which; `pmi_number` is set for assmats only
(MAM, RPE and staff accounts will log in by e-mail); `email` is nullable for an assmat who will use FranceConnect
only; `password_hash` likewise.
"""
import datetime as dt

import sqlalchemy as sa

from services.db import kernel_tables
from services.expiring import expiring_keys


class UtcDateTime(sa.TypeDecorator):
    """Timestamps stored in UTC and read back timezone-aware on every database (SQLite forgets the zone)."""
    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return value.astimezone(dt.timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


metadata = sa.MetaData()
kernel_tables(metadata)
# The kernel's expiring store, when it lives in this database (IDENTITY_STORE_URL empty): throttling counters and
# locks, captcha answers. The store creates it on first use; migration 0004 creates it too, so the schema is whole.
expiring_keys.to_metadata(metadata)

# Who may activate: the part of the agrément events identity needs, nothing more.
agrement_holders = sa.Table(
    "agrement_holders", metadata,
    sa.Column("pmi_number", sa.String(6), primary_key=True),
    sa.Column("birth_date", sa.Date, nullable=False),
    sa.Column("first_name", sa.String(100), nullable=False),
    sa.Column("last_name", sa.String(100), nullable=False),
    sa.Column("agrement_status", sa.String(20), nullable=False),
    # Birth name: FranceConnect's family_name is checked against it. E-mail: the address the PMI knows, told when an
    # account is activated with another one. Validity: an agrément that has not started or has ended opens nothing.
    sa.Column("birth_name", sa.String(100)),
    sa.Column("email", sa.String(254)),
    sa.Column("validity_start", sa.Date),
    sa.Column("validity_end", sa.Date),
    sa.Column("source_occurred_at", UtcDateTime, nullable=False),  # the event this row reflects; older ones lose
)

accounts = sa.Table(
    "accounts", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("pmi_number", sa.String(6), unique=True),
    sa.Column("email", sa.String(254), unique=True),  # always lower case
    sa.Column("password_hash", sa.Text),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("activated_at", UtcDateTime),
    # Staff: every role held (comma-separated; `role` is the main one) and, for PMI agents, their circonscriptions.
    sa.Column("roles", sa.Text),
    sa.Column("circonscriptions", sa.Text),
    # Staff: the TOTP secret (base32) and the last time step accepted, so a code is never accepted twice.
    sa.Column("totp_secret", sa.String(64)),
    sa.Column("totp_last_step", sa.BigInteger),
    # MAM and RPE: the structure the account belongs to ("mam:MAM28-01", "rpe:RPE28-01").
    sa.Column("structure_key", sa.String(80), unique=True),
    sa.Column("password_changed_at", UtcDateTime),
)

email_confirmations = sa.Table(
    "email_confirmations", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("used_at", UtcDateTime),
)

# Forgotten password: single-use links, SHA-256 of the secret only, valid RESET_LIFETIME.
password_resets = sa.Table(
    "password_resets", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("used_at", UtcDateTime),
)

# The MAMs and RPEs of agrement-svc's structures extract, as identity knows them: enough to keep their account in
# step, and to say why a structure has none (`conflict`: its e-mail belongs to another account).
structures = sa.Table(
    "structures", metadata,
    sa.Column("structure_key", sa.String(80), primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(254)),
    sa.Column("status", sa.String(20), nullable=False),       # open | closed
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id", ondelete="SET NULL")),
    sa.Column("conflict", sa.String(40)),                      # email_taken | invalid_email | None
    sa.Column("source_occurred_at", UtcDateTime, nullable=False),
)

refresh_tokens = sa.Table(
    "refresh_tokens", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("session_id", sa.String(36), nullable=False, index=True),  # every rotation of one login
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),  # the session's absolute end, kept through rotations
    sa.Column("used_at", UtcDateTime),
    sa.Column("revoked_at", UtcDateTime),
)

signing_keys = sa.Table(
    "signing_keys", metadata,
    sa.Column("kid", sa.String(64), primary_key=True),
    sa.Column("private_jwk", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# Every attempt at activating, logging in, resending or solving a captcha, and every spike of failures: who (masked
# identifier and a short hash to group them, the account when known), from where, what happened. Never a secret.
audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False, index=True),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("outcome", sa.String(30), nullable=False),
    sa.Column("account_id", sa.String(36)),
    sa.Column("identifier", sa.String(80)),
    sa.Column("ip", sa.String(64)),
    sa.Column("detail", sa.Text),
)

# A FranceConnect identity linked to an account: `sub` is opaque and given per service by FranceConnect. One link
# per account and one account per sub.
franceconnect_links = sa.Table(
    "franceconnect_links", metadata,
    sa.Column("sub", sa.String(255), primary_key=True),
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False,
              unique=True),
    sa.Column("linked_at", UtcDateTime, nullable=False),
)
