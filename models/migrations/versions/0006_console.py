"""console: folded patient name for search

Revision ID: 0006_console
Revises: 0005_rules
"""

from collections.abc import Sequence

import re

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006_console"
down_revision: str | None = "0005_rules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOT_NAME = re.compile(r"[^\w-]+")
BATCH = 5000


def _fold(text: str) -> str:
    # A copy of models.tables.fold_name as of this revision: migrations must not change
    # meaning when the model code moves on.
    return " ".join(_NOT_NAME.sub(" ", text.lower().replace("ё", "е")).replace("_", " ").split())


def _backfill() -> None:
    bind = op.get_bind()
    patient = sa.table("patient", sa.column("id", sa.Integer), sa.column("last_name", sa.String),
                       sa.column("first_name", sa.String), sa.column("middle_name", sa.String),
                       sa.column("name_key", sa.String))
    last_id = 0
    while True:
        rows = bind.execute(
            sa.select(patient.c.id, patient.c.last_name, patient.c.first_name,
                      patient.c.middle_name).where(patient.c.id > last_id)
            .order_by(patient.c.id).limit(BATCH)).all()
        if not rows:
            return
        bind.execute(
            patient.update().where(patient.c.id == sa.bindparam("pid"))
            .values(name_key=sa.bindparam("key")),
            [{"pid": r.id, "key": _fold(f"{r.last_name} {r.first_name} {r.middle_name or ''}")}
             for r in rows])
        last_id = rows[-1].id


def upgrade() -> None:
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sqlmodel.sql.sqltypes.AutoString(length=250),
                                      nullable=True))
    _backfill()
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.create_index("ix_patient_name_key", ["name_key"], unique=False,
                              postgresql_ops={"name_key": "text_pattern_ops"})


def downgrade() -> None:
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.drop_index("ix_patient_name_key")
        batch_op.drop_column("name_key")
