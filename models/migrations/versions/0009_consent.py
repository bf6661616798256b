"""consent codes for booking someone else (rule 20), a representative's phone on a patient

Revision ID: 0009_consent
Revises: 0008_fhir
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009_consent"
down_revision: str | None = "0008_fhir"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consentcode",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("caller_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("code_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("outbox_key", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("consentcode", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consentcode_patient_id"), ["patient_id"],
                              unique=False)
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.add_column(sa.Column("representative_phone",
                                      sqlmodel.sql.sqltypes.AutoString(length=20),
                                      nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.drop_column("representative_phone")
    with op.batch_alter_table("consentcode", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consentcode_patient_id"))
    op.drop_table("consentcode")
