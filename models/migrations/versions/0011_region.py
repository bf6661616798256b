"""one line for many clinics: dialled numbers, per-clinic console users, the call's clinic

Revision ID: 0011_region
Revises: 0010_waitlist
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011_region"
down_revision: str | None = "0010_waitlist"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clinicline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=True),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinic.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("clinicline", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clinicline_number"), ["number"], unique=True)
        batch_op.create_index(batch_op.f("ix_clinicline_clinic_id"), ["clinic_id"], unique=False)
    with op.batch_alter_table("agent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("clinic_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_agent_clinic_id"), ["clinic_id"], unique=False)
        batch_op.create_foreign_key("fk_agent_clinic_id", "clinic", ["clinic_id"], ["id"])
    with op.batch_alter_table("callrecord", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dialled_number",
                                      sqlmodel.sql.sqltypes.AutoString(length=32),
                                      nullable=False, server_default=""))
        batch_op.add_column(sa.Column("clinic_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_callrecord_clinic_id"), ["clinic_id"], unique=False)
        batch_op.create_foreign_key("fk_callrecord_clinic_id", "clinic", ["clinic_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("callrecord", schema=None) as batch_op:
        batch_op.drop_constraint("fk_callrecord_clinic_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_callrecord_clinic_id"))
        batch_op.drop_column("clinic_id")
        batch_op.drop_column("dialled_number")
    with op.batch_alter_table("agent", schema=None) as batch_op:
        batch_op.drop_constraint("fk_agent_clinic_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_agent_clinic_id"))
        batch_op.drop_column("clinic_id")
    with op.batch_alter_table("clinicline", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clinicline_clinic_id"))
        batch_op.drop_index(batch_op.f("ix_clinicline_number"))
    op.drop_table("clinicline")
