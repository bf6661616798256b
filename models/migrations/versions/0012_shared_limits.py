"""limits shared by every console process: failed logins, API clients' requests

Revision ID: 0012_shared_limits
Revises: 0011_region
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012_shared_limits"
down_revision: str | None = "0011_region"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "loginfailure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("loginfailure", schema=None) as batch_op:
        batch_op.create_index("ix_loginfailure_key_at", ["key", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_loginfailure_at"), ["at"], unique=False)
    op.create_table(
        "apirequesthit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("apirequesthit", schema=None) as batch_op:
        batch_op.create_index("ix_apirequesthit_client_id_at", ["client_id", "at"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_apirequesthit_at"), ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("apirequesthit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apirequesthit_at"))
        batch_op.drop_index("ix_apirequesthit_client_id_at")
    op.drop_table("apirequesthit")
    with op.batch_alter_table("loginfailure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loginfailure_at"))
        batch_op.drop_index("ix_loginfailure_key_at")
    op.drop_table("loginfailure")
