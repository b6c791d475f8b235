"""create the pathway schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 07:39:53.875420
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pathway.db

revision: str = '0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('send_rates',
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('next_free_at', pathway.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sender', name=op.f('pk_send_rates'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', pathway.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('coordinator', 'clinician', 'admin')", name=op.f('ck_users_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_table('worker_heartbeats',
    sa.Column('worker_id', sa.String(length=120), nullable=False),
    sa.Column('started_at', pathway.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('beat_at', pathway.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_total', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('worker_id', name=op.f('pk_worker_heartbeats'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('created_at', pathway.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('patients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mrn', sa.String(length=64), nullable=False),
    sa.Column('given_name', sa.String(length=120), nullable=False),
    sa.Column('family_name', sa.String(length=120), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('detailed_texts', sa.Boolean(), nullable=False),
    sa.Column('sms_consent_at', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sms_consent_method', sa.String(length=40), nullable=True),
    sa.Column('sms_consent_by_id', sa.Integer(), nullable=True),
    sa.Column('opted_out_at', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('opted_out_via', sa.String(length=40), nullable=True),
    sa.Column('phone_flagged_at', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('phone_flag_reason', sa.Text(), nullable=True),
    sa.Column('created_at', pathway.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['sms_consent_by_id'], ['users.id'], name=op.f('fk_patients_sms_consent_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patients')),
    sa.UniqueConstraint('mrn', name=op.f('uq_patients_mrn'))
    )
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patients_family_name'), ['family_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_patients_phone'), ['phone'], unique=False)

    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', pathway.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('entity_type', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=True),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('remote_addr', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_audit_events_patient_id_patients')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_audit_events_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_patient_id'), ['patient_id'], unique=False)

    op.create_table('episodes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('procedure_at', pathway.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('ended_at', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('facility', sa.String(length=200), nullable=False),
    sa.Column('proceduralist', sa.String(length=200), nullable=False),
    sa.Column('levels', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('mri_reviewed_on', sa.Date(), nullable=True),
    sa.Column('tried_pt', sa.Boolean(), nullable=False),
    sa.Column('tried_medication', sa.Boolean(), nullable=False),
    sa.Column('tried_injections', sa.Boolean(), nullable=False),
    sa.Column('escort_arranged', sa.Boolean(), nullable=False),
    sa.Column('cancelled_at', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.Column('created_at', pathway.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('plan_revision', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('scheduled', 'completed', 'cancelled')", name=op.f('ck_episodes_status')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_episodes_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_episodes'))
    )
    with op.batch_alter_table('episodes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_episodes_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_episodes_proceduralist'), ['proceduralist'], unique=False)
        batch_op.create_index(batch_op.f('ix_episodes_procedure_at'), ['procedure_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_episodes_status'), ['status'], unique=False)

    op.create_table('appointments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('episode_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('appointment_at', pathway.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('booked_at', pathway.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('booked_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind IN ('follow_up', 'pt_start')", name=op.f('ck_appointments_kind')),
    sa.CheckConstraint("status IN ('booked', 'done', 'missed', 'cancelled')", name=op.f('ck_appointments_status')),
    sa.ForeignKeyConstraint(['booked_by_id'], ['users.id'], name=op.f('fk_appointments_booked_by_id_users')),
    sa.ForeignKeyConstraint(['episode_id'], ['episodes.id'], name=op.f('fk_appointments_episode_id_episodes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointments'))
    )
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointments_episode_id'), ['episode_id'], unique=False)

    op.create_table('medication_holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('episode_id', sa.Integer(), nullable=False),
    sa.Column('drug_key', sa.String(length=64), nullable=True),
    sa.Column('drug_name', sa.String(length=120), nullable=False),
    sa.Column('interval_source', sa.String(length=200), nullable=False),
    sa.Column('stop_days', sa.Integer(), nullable=True),
    sa.Column('stop_hours', sa.Integer(), nullable=True),
    sa.Column('restart_hours', sa.Integer(), nullable=True),
    sa.Column('last_dose_on', sa.Date(), nullable=True),
    sa.Column('last_dose_at', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('restart_at', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('prescriber_name', sa.String(length=200), nullable=False),
    sa.Column('prescriber_phone', sa.String(length=20), nullable=False),
    sa.Column('clearance', sa.String(length=16), nullable=False),
    sa.Column('clearance_by', sa.String(length=200), nullable=True),
    sa.Column('clearance_at', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('clearance_note', sa.Text(), nullable=True),
    sa.Column('clearance_recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('signed_by_id', sa.Integer(), nullable=True),
    sa.Column('signed_at', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('inr_required', sa.Boolean(), nullable=False),
    sa.Column('inr_value', sa.Numeric(precision=4, scale=2), nullable=True),
    sa.Column('inr_at', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('inr_recorded_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("clearance IN ('needed', 'requested', 'approved', 'declined', 'not_required')", name=op.f('ck_medication_holds_clearance')),
    sa.CheckConstraint('NOT (stop_days IS NOT NULL AND stop_hours IS NOT NULL)', name=op.f('ck_medication_holds_one_stop_interval')),
    sa.ForeignKeyConstraint(['clearance_recorded_by_id'], ['users.id'], name=op.f('fk_medication_holds_clearance_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['episode_id'], ['episodes.id'], name=op.f('fk_medication_holds_episode_id_episodes')),
    sa.ForeignKeyConstraint(['inr_recorded_by_id'], ['users.id'], name=op.f('fk_medication_holds_inr_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['signed_by_id'], ['users.id'], name=op.f('fk_medication_holds_signed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_medication_holds'))
    )
    with op.batch_alter_table('medication_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_medication_holds_episode_id'), ['episode_id'], unique=False)

    op.create_table('replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('episode_id', sa.Integer(), nullable=True),
    sa.Column('from_number', sa.String(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('provider_id', sa.String(length=64), nullable=True),
    sa.Column('received_at', pathway.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('classification', sa.String(length=20), nullable=False),
    sa.Column('handled_at', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('handled_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['episode_id'], ['episodes.id'], name=op.f('fk_replies_episode_id_episodes')),
    sa.ForeignKeyConstraint(['handled_by_id'], ['users.id'], name=op.f('fk_replies_handled_by_id_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_replies_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_replies')),
    sa.UniqueConstraint('provider_id', name=op.f('uq_replies_provider_id'))
    )
    with op.batch_alter_table('replies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_replies_episode_id'), ['episode_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_replies_patient_id'), ['patient_id'], unique=False)

    op.create_table('milestones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('episode_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('ref', sa.String(length=20), nullable=False),
    sa.Column('hold_id', sa.Integer(), nullable=True),
    sa.Column('due_at', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('window_start', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('window_end', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('rule', sa.Text(), nullable=False),
    sa.Column('completed_at', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_by_id', sa.Integer(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.CheckConstraint("kind IN ('hold_clearance', 'last_dose', 'pre_procedure', 'procedure', 'restart', 'check_72h', 'follow_up', 'pt_start')", name=op.f('ck_milestones_kind')),
    sa.CheckConstraint("status IN ('planned', 'due', 'done', 'missed', 'cancelled')", name=op.f('ck_milestones_status')),
    sa.ForeignKeyConstraint(['completed_by_id'], ['users.id'], name=op.f('fk_milestones_completed_by_id_users')),
    sa.ForeignKeyConstraint(['episode_id'], ['episodes.id'], name=op.f('fk_milestones_episode_id_episodes')),
    sa.ForeignKeyConstraint(['hold_id'], ['medication_holds.id'], name=op.f('fk_milestones_hold_id_medication_holds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_milestones')),
    sa.UniqueConstraint('episode_id', 'kind', 'ref', name=op.f('uq_milestones_episode_id_kind_ref'))
    )
    with op.batch_alter_table('milestones', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_milestones_episode_id'), ['episode_id'], unique=False)

    op.create_table('messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('episode_id', sa.Integer(), nullable=True),
    sa.Column('milestone_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('plan_key', sa.String(length=120), nullable=False),
    sa.Column('send_at', pathway.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.String(length=64), nullable=True),
    sa.Column('error_code', sa.Integer(), nullable=True),
    sa.Column('claimed_by', sa.String(length=120), nullable=True),
    sa.Column('lease_until', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempt_started_at', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', pathway.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', pathway.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('enrolment', 'last_dose', 'pre_procedure', 'restart', 'check_72h', 'follow_up', 'pt_start', 'date_changed', 'cancelled', 'reply')", name=op.f('ck_messages_kind')),
    sa.CheckConstraint("status IN ('scheduled', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'cancelled', 'suppressed', 'unknown')", name=op.f('ck_messages_status')),
    sa.ForeignKeyConstraint(['episode_id'], ['episodes.id'], name=op.f('fk_messages_episode_id_episodes')),
    sa.ForeignKeyConstraint(['milestone_id'], ['milestones.id'], name=op.f('fk_messages_milestone_id_milestones')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_messages_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages'))
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index('ix_messages_due', ['send_at'], unique=False, sqlite_where=sa.text("status = 'scheduled'"), postgresql_where=sa.text("status = 'scheduled'"))
        batch_op.create_index(batch_op.f('ix_messages_episode_id'), ['episode_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_status'), ['status'], unique=False)
        batch_op.create_index('uq_messages_patient_id_plan_key_live', ['patient_id', 'plan_key'], unique=True, sqlite_where=sa.text("status NOT IN ('cancelled', 'suppressed')"), postgresql_where=sa.text("status NOT IN ('cancelled', 'suppressed')"))

    op.create_table('message_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('at', pathway.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=True),
    sa.Column('provider_status', sa.String(length=20), nullable=True),
    sa.Column('error_code', sa.Integer(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_message_events_message_id_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_events'))
    )
    with op.batch_alter_table('message_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_events_message_id'), ['message_id'], unique=False)

    op.create_table('tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('subject', sa.String(length=60), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('episode_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('reply_id', sa.Integer(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('created_at', pathway.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['episode_id'], ['episodes.id'], name=op.f('fk_tasks_episode_id_episodes')),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_tasks_message_id_messages')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_tasks_patient_id_patients')),
    sa.ForeignKeyConstraint(['reply_id'], ['replies.id'], name=op.f('fk_tasks_reply_id_replies')),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_tasks_resolved_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks'))
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tasks_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index('uq_tasks_kind_subject_open', ['kind', 'subject'], unique=True, sqlite_where=sa.text('resolved_at IS NULL'), postgresql_where=sa.text('resolved_at IS NULL'))



def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('uq_tasks_kind_subject_open', sqlite_where=sa.text('resolved_at IS NULL'), postgresql_where=sa.text('resolved_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_tasks_patient_id'))

    op.drop_table('tasks')
    with op.batch_alter_table('message_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_events_message_id'))

    op.drop_table('message_events')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('uq_messages_patient_id_plan_key_live', sqlite_where=sa.text("status NOT IN ('cancelled', 'suppressed')"), postgresql_where=sa.text("status NOT IN ('cancelled', 'suppressed')"))
        batch_op.drop_index(batch_op.f('ix_messages_status'))
        batch_op.drop_index(batch_op.f('ix_messages_provider_id'))
        batch_op.drop_index(batch_op.f('ix_messages_patient_id'))
        batch_op.drop_index(batch_op.f('ix_messages_episode_id'))
        batch_op.drop_index('ix_messages_due', sqlite_where=sa.text("status = 'scheduled'"), postgresql_where=sa.text("status = 'scheduled'"))

    op.drop_table('messages')
    with op.batch_alter_table('milestones', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_milestones_episode_id'))

    op.drop_table('milestones')
    with op.batch_alter_table('replies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_replies_patient_id'))
        batch_op.drop_index(batch_op.f('ix_replies_episode_id'))

    op.drop_table('replies')
    with op.batch_alter_table('medication_holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_medication_holds_episode_id'))

    op.drop_table('medication_holds')
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointments_episode_id'))

    op.drop_table('appointments')
    with op.batch_alter_table('episodes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_episodes_status'))
        batch_op.drop_index(batch_op.f('ix_episodes_procedure_at'))
        batch_op.drop_index(batch_op.f('ix_episodes_proceduralist'))
        batch_op.drop_index(batch_op.f('ix_episodes_patient_id'))

    op.drop_table('episodes')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_patient_id'))
        batch_op.drop_index(batch_op.f('ix_audit_events_at'))

    op.drop_table('audit_events')
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patients_phone'))
        batch_op.drop_index(batch_op.f('ix_patients_family_name'))

    op.drop_table('patients')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    op.drop_table('worker_heartbeats')
    op.drop_table('users')
    op.drop_table('send_rates')
