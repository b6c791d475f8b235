"""Send one-off texts typed by staff, urgent ones even in quiet hours

A coordinator or clinician may text a patient in their own words from the episode page or the
API (issue 11, "Acting on replies"): a new message kind ``staff``, who typed it
(``created_by_id``), and whether they marked it urgent (``urgent``: it goes at once, even in the
patient's quiet hours).

Revision ID: 0010_thread
Revises: 0009_arrival
Create Date: 2026-12-06 20:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010_thread'
down_revision: str | Sequence[str] | None = '0009_arrival'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out whole: tests/test_migrations.py finds each model's CHECK text in a migration.
_BEFORE = "kind IN ('enrolment', 'last_dose', 'pre_procedure', 'restart', 'check_72h', 'follow_up', 'pt_start', 'date_changed', 'cancelled', 'reply')"
_AFTER = "kind IN ('enrolment', 'last_dose', 'pre_procedure', 'restart', 'check_72h', 'follow_up', 'pt_start', 'date_changed', 'cancelled', 'reply', 'staff')"


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('urgent', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('created_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_messages_created_by_id_users'), 'users', ['created_by_id'], ['id'])
        batch_op.drop_constraint(batch_op.f('ck_messages_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_messages_kind'), _AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM message_events WHERE message_id IN (SELECT id FROM messages WHERE kind = 'staff')")
    op.execute("DELETE FROM messages WHERE kind = 'staff'")
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_messages_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_messages_kind'), _BEFORE)
        batch_op.drop_constraint(batch_op.f('fk_messages_created_by_id_users'), type_='foreignkey')
        batch_op.drop_column('created_by_id')
        batch_op.drop_column('urgent')
