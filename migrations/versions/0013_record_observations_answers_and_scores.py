"""Record observations: pain scores, stopped medicines and walking minutes

A patient's answer to a question text (the 72-hour check's pain score, whether a held medicine
was stopped) and what staff record are kept as observations of the episode, each with its code,
value, unit, time point and where it came from. A new kind of text, ``stop_confirm``, asks the
morning after a last-dose day whether the patient has stopped the medicine.

Revision ID: 0013_observations
Revises: 0012_versions
Create Date: 2026-12-06 20:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pathway.db

KINDS_BEFORE = "kind IN ('enrolment', 'last_dose', 'pre_procedure', 'restart', 'check_72h', 'follow_up', 'pt_start', 'date_changed', 'cancelled', 'reply', 'staff')"
KINDS_AFTER = "kind IN ('enrolment', 'last_dose', 'pre_procedure', 'restart', 'check_72h', 'follow_up', 'pt_start', 'stop_confirm', 'date_changed', 'cancelled', 'reply', 'staff')"


def _message_kinds(check: str) -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_messages_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_messages_kind'), check)

revision: str = '0013_observations'
down_revision: str | Sequence[str] | None = '0012_versions'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'observations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('episode_id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('value', sa.Numeric(precision=8, scale=2), nullable=False),
        sa.Column('unit', sa.String(length=20), nullable=False),
        sa.Column('time_point', sa.String(length=10), nullable=True),
        sa.Column('received_at', pathway.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('source', sa.String(length=10), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=True),
        sa.Column('reply_id', sa.Integer(), nullable=True),
        sa.Column('hold_id', sa.Integer(), nullable=True),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', pathway.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("code IN ('nprs', 'stopped_medicine', 'walk_minutes')",
                           name=op.f('ck_observations_code')),
        sa.CheckConstraint("source IN ('sms', 'staff')", name=op.f('ck_observations_source')),
        sa.CheckConstraint("time_point IN ('baseline', '72h', 'visit', '6w', '3m', '6m', '12m', '24m')",
                           name=op.f('ck_observations_time_point')),
        sa.ForeignKeyConstraint(['episode_id'], ['episodes.id'], name=op.f('fk_observations_episode_id_episodes')),
        sa.ForeignKeyConstraint(['hold_id'], ['medication_holds.id'],
                                name=op.f('fk_observations_hold_id_medication_holds')),
        sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_observations_message_id_messages')),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_observations_recorded_by_id_users')),
        sa.ForeignKeyConstraint(['reply_id'], ['replies.id'], name=op.f('fk_observations_reply_id_replies')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_observations')),
    )
    with op.batch_alter_table('observations', schema=None) as batch_op:
        batch_op.create_index('ix_observations_episode_id_code_received_at', ['episode_id', 'code', 'received_at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_observations_message_id'), ['message_id'], unique=False)
    _message_kinds(KINDS_AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM message_events WHERE message_id IN (SELECT id FROM messages WHERE kind = 'stop_confirm')")
    op.execute("DELETE FROM messages WHERE kind = 'stop_confirm'")
    _message_kinds(KINDS_BEFORE)
    with op.batch_alter_table('observations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_observations_message_id'))
        batch_op.drop_index('ix_observations_episode_id_code_received_at')
    op.drop_table('observations')
