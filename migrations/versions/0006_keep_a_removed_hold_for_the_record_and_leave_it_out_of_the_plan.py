"""Keep a removed hold for the record and leave it out of the plan

A hold removed before the procedure (``DELETE /api/v1/holds/<id>``, the episode page's Remove)
is not deleted: texts already sent, its milestones and the audit trail name it. It is marked
removed (when, by whom) and every reader leaves it out.

Revision ID: 0006_removed_holds
Revises: 0005_go_no_go_facts
Create Date: 2026-12-06 05:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pathway.db

revision: str = '0006_removed_holds'
down_revision: str | Sequence[str] | None = '0005_go_no_go_facts'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('medication_holds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('removed_at', pathway.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('removed_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_medication_holds_removed_by_id_users'), 'users',
                                    ['removed_by_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('medication_holds', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_medication_holds_removed_by_id_users'), type_='foreignkey')
        batch_op.drop_column('removed_by_id')
        batch_op.drop_column('removed_at')
