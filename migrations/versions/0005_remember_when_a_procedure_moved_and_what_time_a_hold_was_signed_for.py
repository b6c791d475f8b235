"""Remember when a procedure moved and what procedure time a hold was signed for

The go / no go needs both: a last dose already past when the procedure was last moved is a
late start (`hold_started_late`), and a signature stands only for the procedure time it was
given for (`hold_too_short`). They were read back from the audit trail; the audit is a record
of what happened, not the data decisions are made from, so they get columns of their own.

Revision ID: 0005_go_no_go_facts
Revises: 0004_patient_label
Create Date: 2026-12-06 03:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pathway.db

revision: str = '0005_go_no_go_facts'
down_revision: str | Sequence[str] | None = '0004_patient_label'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('episodes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('moved_at', pathway.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('medication_holds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signed_for_procedure_at', pathway.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('medication_holds', schema=None) as batch_op:
        batch_op.drop_column('signed_for_procedure_at')
    with op.batch_alter_table('episodes', schema=None) as batch_op:
        batch_op.drop_column('moved_at')
