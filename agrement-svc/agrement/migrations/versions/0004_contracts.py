"""contracts: own children, contract declarations (R421-39), exceptional over-capacity (L421-4 III, D421-17)

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "own_children",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("pmi_number", sa.String(6), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("birth_date", sa.Date, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_own_children_pmi_number", "own_children", ["pmi_number"])
    op.create_table(
        "contracts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("pmi_number", sa.String(6), nullable=False),
        sa.Column("circonscription", sa.String(100), nullable=False),
        sa.Column("child_first_name", sa.String(100)),
        sa.Column("child_birth_date", sa.Date),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date),
        sa.Column("schedule", sa.JSON),
        sa.Column("representatives", sa.JSON),
        sa.Column("late", sa.Boolean, nullable=False),
        sa.Column("over_capacity", sa.Boolean, nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_contracts_pmi_number", "contracts", ["pmi_number"])
    op.create_index("ix_contracts_circonscription", "contracts", ["circonscription"])
    op.create_table(
        "contract_declarations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("contract_id", sa.String(32), nullable=False),
        sa.Column("pmi_number", sa.String(6), nullable=False),
        sa.Column("circonscription", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("effective_date", sa.Date, nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("late", sa.Boolean, nullable=False),
        sa.Column("over_capacity", sa.Boolean, nullable=False),
        sa.Column("exceedances", sa.JSON),
    )
    for column in ("contract_id", "pmi_number", "circonscription"):
        op.create_index(f"ix_contract_declarations_{column}", "contract_declarations", [column])
    op.create_table(
        "over_capacity_declarations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("pmi_number", sa.String(6), nullable=False),
        sa.Column("circonscription", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date, nullable=False),
        sa.Column("day_totals", sa.JSON, nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("late", sa.Boolean, nullable=False),
    )
    for column in ("pmi_number", "circonscription"):
        op.create_index(f"ix_over_capacity_declarations_{column}", "over_capacity_declarations", [column])


def downgrade() -> None:
    op.drop_table("over_capacity_declarations")
    op.drop_table("contract_declarations")
    op.drop_table("contracts")
    op.drop_table("own_children")
