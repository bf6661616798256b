"""appointment.substitute_for_id: the hold a doctor's absence makes for a flagged appointment

Revision ID: 0005_rules
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_rules"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain nullable column (no foreign key): SQLite adds it in place, so the batch never
    # recreates the table and its partial unique index on slot_id stays as it is.
    with op.batch_alter_table("appointment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("substitute_for_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_appointment_substitute_for_id"),
                              ["substitute_for_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("appointment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appointment_substitute_for_id"))
        batch_op.drop_column("substitute_for_id")
