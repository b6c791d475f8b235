"""Index what the worklist and the board read

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 08:36:26.435978
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('episodes', schema=None) as batch_op:
        batch_op.create_index('ix_episodes_status_procedure_at', ['status', 'procedure_at'], unique=False)

    with op.batch_alter_table('medication_holds', schema=None) as batch_op:
        batch_op.create_index('ix_medication_holds_unresolved', ['last_dose_on'], unique=False, sqlite_where=sa.text("clearance IN ('needed', 'requested')"), postgresql_where=sa.text("clearance IN ('needed', 'requested')"))

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_status'))
        batch_op.create_index('ix_messages_send_at', ['send_at'], unique=False)
        batch_op.create_index('ix_messages_status_send_at', ['status', 'send_at'], unique=False)
        batch_op.create_index('ix_messages_status_updated_at', ['status', 'updated_at'], unique=False)

    with op.batch_alter_table('milestones', schema=None) as batch_op:
        batch_op.create_index('ix_milestones_status_window_end_due_at', ['status', 'window_end', 'due_at'], unique=False)

    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.create_index('ix_patients_opted_out_at', ['opted_out_at'], unique=False, sqlite_where=sa.text('opted_out_at IS NOT NULL'), postgresql_where=sa.text('opted_out_at IS NOT NULL'))

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tasks_message_id'), ['message_id'], unique=False)
        batch_op.create_index('ix_tasks_open_priority', ['priority', 'created_at'], unique=False, sqlite_where=sa.text('resolved_at IS NULL'), postgresql_where=sa.text('resolved_at IS NULL'))



def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_open_priority', sqlite_where=sa.text('resolved_at IS NULL'), postgresql_where=sa.text('resolved_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_tasks_message_id'))

    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_index('ix_patients_opted_out_at', sqlite_where=sa.text('opted_out_at IS NOT NULL'), postgresql_where=sa.text('opted_out_at IS NOT NULL'))

    with op.batch_alter_table('milestones', schema=None) as batch_op:
        batch_op.drop_index('ix_milestones_status_window_end_due_at')

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_status_updated_at')
        batch_op.drop_index('ix_messages_status_send_at')
        batch_op.drop_index('ix_messages_send_at')
        batch_op.create_index(batch_op.f('ix_messages_status'), ['status'], unique=False)

    with op.batch_alter_table('medication_holds', schema=None) as batch_op:
        batch_op.drop_index('ix_medication_holds_unresolved', sqlite_where=sa.text("clearance IN ('needed', 'requested')"), postgresql_where=sa.text("clearance IN ('needed', 'requested')"))

    with op.batch_alter_table('episodes', schema=None) as batch_op:
        batch_op.drop_index('ix_episodes_status_procedure_at')

