"""identity's tables.

`accounts` is shaped for every kind of account to come: `role` says which; `pmi_number` is set for assmats only
(MAM, RPE and staff accounts will log in by e-mail); `email` is nullable for an assmat who will use FranceConnect
only; `password_hash` likewise.
"""
import datetime as dt

import sqlalchemy as sa

from services.db import kernel_tables


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

# A FranceConnect identity linked to an account: `sub` is opaque and given per service by FranceConnect. One link
# per account and one account per sub.
franceconnect_links = sa.Table(
    "franceconnect_links", metadata,
    sa.Column("sub", sa.String(255), primary_key=True),
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False,
              unique=True),
    sa.Column("linked_at", UtcDateTime, nullable=False),
)
