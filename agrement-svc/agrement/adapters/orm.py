"""agrement-svc's tables."""
import sqlalchemy as sa

from services.db import kernel_tables

metadata = sa.MetaData()
kernel_tables(metadata)

agrements = sa.Table(
    "agrements", metadata,
    sa.Column("pmi_number", sa.String(6), primary_key=True),
    sa.Column("civility", sa.String(10)),
    sa.Column("first_name", sa.String(100), nullable=False),
    sa.Column("last_name", sa.String(100), nullable=False),
    sa.Column("birth_name", sa.String(100)),
    sa.Column("birth_date", sa.Date, nullable=False),
    sa.Column("email", sa.String(254)),
    sa.Column("phone", sa.String(30)),
    sa.Column("address_line", sa.String(300), nullable=False),
    sa.Column("address_complement", sa.String(300)),
    sa.Column("postcode", sa.String(5), nullable=False),
    sa.Column("commune_insee", sa.String(5), nullable=False, index=True),
    sa.Column("circonscription", sa.String(100), nullable=False, index=True),
    sa.Column("capacity_total", sa.Integer, nullable=False),
    sa.Column("capacity_under_3", sa.Integer, nullable=False),
    sa.Column("validity_start", sa.Date, nullable=False),
    sa.Column("validity_end", sa.Date, nullable=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("publication_opposed", sa.Boolean, nullable=False),
    # Recorded by PMI staff (issue 7, migration 0005): on the site without contact details. Not in the extract.
    sa.Column("publication_contact_hidden", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("place_type", sa.String(10), nullable=False),
    sa.Column("mam_id", sa.String(50), index=True),
    sa.Column("mam_name", sa.String(200)),
    sa.Column("record", sa.JSON, nullable=False),          # the record as imported, for fields added later
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

import_runs = sa.Table(
    "import_runs", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("file_name", sa.String(300), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("rows_read", sa.Integer, nullable=False, server_default="0"),
    sa.Column("granted", sa.Integer, nullable=False, server_default="0"),
    sa.Column("modified", sa.Integer, nullable=False, server_default="0"),
    sa.Column("withdrawn", sa.Integer, nullable=False, server_default="0"),
    sa.Column("unchanged", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rejections", sa.JSON),
)

# The structures extract (STRUCTURES_FORMAT.md): MAMs and RPEs, keyed "<kind>:<id>".
structures = sa.Table(
    "structures", metadata,
    sa.Column("structure_key", sa.String(80), primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("structure_id", sa.String(32), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("record", sa.JSON, nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# What assmats declare (migration 0004). Children's personal data is what R421-39 asks and no more, and is erased a
# set time after departure (contracts/commands.erase_departed_children, AGREMENT_CHILD_DATA_RETENTION_DAYS).
own_children = sa.Table(
    "own_children", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("pmi_number", sa.String(6), nullable=False, index=True),
    sa.Column("first_name", sa.String(100), nullable=False),
    sa.Column("birth_date", sa.Date, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

contracts = sa.Table(
    "contracts", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("pmi_number", sa.String(6), nullable=False, index=True),
    sa.Column("circonscription", sa.String(100), nullable=False, index=True),
    sa.Column("child_first_name", sa.String(100)),          # null once erased
    sa.Column("child_birth_date", sa.Date),                 # null once erased
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date),                         # the departure, once declared
    sa.Column("schedule", sa.JSON),                         # [{"weekday": 0, "start": "08:00", "end": "18:00"}]
    sa.Column("representatives", sa.JSON),                  # null once erased
    sa.Column("late", sa.Boolean, nullable=False),          # any of its declarations was late (R421-39)
    sa.Column("over_capacity", sa.Boolean, nullable=False),  # saved despite a breach of L421-4
    sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("erased_at", sa.DateTime(timezone=True)),
)

# One row per declaration to the PMI (arrival, change, departure): what the back office lists. No child data.
contract_declarations = sa.Table(
    "contract_declarations", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("contract_id", sa.String(32), nullable=False, index=True),
    sa.Column("pmi_number", sa.String(6), nullable=False, index=True),
    sa.Column("circonscription", sa.String(100), nullable=False, index=True),
    sa.Column("kind", sa.String(10), nullable=False),       # arrival | change | departure
    sa.Column("effective_date", sa.Date, nullable=False),
    sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("late", sa.Boolean, nullable=False),
    sa.Column("over_capacity", sa.Boolean, nullable=False),
    sa.Column("exceedances", sa.JSON),                      # [{"label", "rules", "messages"}] when over capacity
)

# L421-4 III / D421-17: exceptional over-capacity, told within 48 hours with the day's total of under-11s.
over_capacity_declarations = sa.Table(
    "over_capacity_declarations", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("pmi_number", sa.String(6), nullable=False, index=True),
    sa.Column("circonscription", sa.String(100), nullable=False, index=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date, nullable=False),
    sa.Column("day_totals", sa.JSON, nullable=False),       # {"2026-07-01": 7, ...}: under-11s each day
    sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("late", sa.Boolean, nullable=False),
)

# The history of an agrément: each decision of PMI staff in the back office (and what it changed), shown to the
# assmat in her Agrément tab (migration 0005).
agrement_history = sa.Table(
    "agrement_history", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("pmi_number", sa.String(6), nullable=False, index=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("changes", sa.JSON, nullable=False),        # {field: [before, after]}
    sa.Column("reason", sa.Text),
    sa.Column("actor", sa.String(200), nullable=False),
)

# Reports of a change of situation (issue 7), routed to the circonscription of the agrément when received.
situation_reports = sa.Table(
    "situation_reports", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("pmi_number", sa.String(6), nullable=False, index=True),
    sa.Column("circonscription", sa.String(100), nullable=False, index=True),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("details", sa.JSON, nullable=False),        # the kind's own fields (moving: date and new address)
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("staff_message", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

report_attachments = sa.Table(
    "report_attachments", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("report_id", sa.String(32), sa.ForeignKey("situation_reports.id"), nullable=False, index=True),
    sa.Column("file_name", sa.String(200), nullable=False),
    sa.Column("content_type", sa.String(50), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
)
