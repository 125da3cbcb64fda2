"""notify-svc's tables: the mail queue and delivery log, the addresses that fail, the pace of each domain.

A mail's message (`payload`, which may carry a single-use link) is kept only while it waits to be sent: it is
erased once the mail is sent, failed or unconfirmed. The log (who, which kind, when, status) stays for
NOTIFY_LOG_RETENTION_DAYS, then is purged.
"""
import sqlalchemy as sa

from services.db import kernel_tables

metadata = sa.MetaData()
kernel_tables(metadata)

# queued: waits (next_attempt_at); sending: claimed by a worker, whose SMTP conversation has not reached the final
# "." yet; committing: that worker is about to send the final "." (the mail may be with the server); sent;
# failed: permanent refusal or last retry spent (the dead letter); unconfirmed: the worker stopped after the final
# "." without recording the server's answer: not sent again (see README, Delivery guarantees).
STATUSES = ("queued", "sending", "committing", "sent", "failed", "unconfirmed")

mails = sa.Table(
    "mails", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("template", sa.String(64), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("cause_event_id", sa.String(36), nullable=False, unique=True),  # one mail per event, whoever sends it
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Column("message_id", sa.String(255)),             # derived from the event: the same on every attempt
    sa.Column("domain", sa.String(255)),                 # the recipient's, for the pace
    sa.Column("payload", sa.LargeBinary),                # the RFC 5322 message while it waits, then erased
    sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
    sa.Column("claim_token", sa.String(32)),
    sa.Column("claimed_until", sa.DateTime(timezone=True)),
    sa.Column("smtp_code", sa.Integer),
    sa.CheckConstraint("status IN ('queued', 'sending', 'committing', 'sent', 'failed', 'unconfirmed')",
                       name="ck_mails_status"),
    sa.Index("ix_mails_due", "status", "next_attempt_at"),
    sa.Index("ix_mails_recipient", "recipient"),
    sa.Index("ix_mails_created_at", "created_at"),
)

# An address a server refused for good (5xx) or that bounced: no more mail is sent to it.
failing_addresses = sa.Table(
    "failing_addresses", metadata,
    sa.Column("address", sa.String(320), primary_key=True),  # lower case
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("source", sa.String(10), nullable=False),      # smtp | bounce
    sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
)

# The earliest moment the next mail to a paced domain may leave (orange.fr, free.fr... throttle bulk senders).
domain_pace = sa.Table(
    "domain_pace", metadata,
    sa.Column("domain", sa.String(255), primary_key=True),
    sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
)

# Who to write to when an event names a person without her address (report.*: the PMI extract's e-mail, often
# empty; correction.decided: identity's account id). A projection of identity's events (account_activated,
# email_changed), each row applied only from an event newer than the one it holds (`updated`).
address_book = sa.Table(
    "address_book", metadata,
    sa.Column("account_id", sa.String(36), primary_key=True),
    sa.Column("pmi_number", sa.String(32)),                  # an assmat's; MAM, RPE and staff have none
    sa.Column("email", sa.String(320)),                      # none known (FranceConnect, replaced) → no mail
    sa.Column("updated", sa.DateTime(timezone=True), nullable=False),  # the event's occurred_at
    sa.Index("ix_address_book_pmi_number", "pmi_number"),
)
