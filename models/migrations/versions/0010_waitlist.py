"""waiting list entries (rule 19)

Revision ID: 0010_waitlist
Revises: 0009_consent
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010_waitlist"
down_revision: str | None = "0009_consent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "status IN ('waiting', 'offered')"


def upgrade() -> None:
    op.create_table(
        "waitlistentry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("specialty_id", sa.Integer(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=True),
        sa.Column("preference", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("offer_appointment_id", sa.Integer(), nullable=True),
        sa.Column("offered_slot_id", sa.Integer(), nullable=True),
        sa.Column("offers", sa.Integer(), nullable=False),
        sa.Column("booked_appointment_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"]),
        sa.ForeignKeyConstraint(["specialty_id"], ["specialty.id"]),
        sa.ForeignKeyConstraint(["doctor_id"], ["doctor.id"]),
        sa.ForeignKeyConstraint(["offer_appointment_id"], ["appointment.id"]),
        sa.ForeignKeyConstraint(["booked_appointment_id"], ["appointment.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("waitlistentry", schema=None) as batch_op:
        batch_op.create_index("uq_waitlistentry_active", ["patient_id", "specialty_id"],
                              unique=True, sqlite_where=sa.text(ACTIVE),
                              postgresql_where=sa.text(ACTIVE))
        batch_op.create_index("ix_waitlistentry_specialty_status",
                              ["specialty_id", "status", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_waitlistentry_offer_appointment_id"),
                              ["offer_appointment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("waitlistentry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_waitlistentry_offer_appointment_id"))
        batch_op.drop_index("ix_waitlistentry_specialty_status")
        batch_op.drop_index("uq_waitlistentry_active")
    op.drop_table("waitlistentry")
