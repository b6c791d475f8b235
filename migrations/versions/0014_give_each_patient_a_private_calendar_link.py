"""Give each patient a private calendar link, and staff calendar feeds

Issue 14 ("Calendars"): a calendar link opens a feed at ``/ical/<token>.ics`` without signing in,
one per patient (from enrolment; staff may revoke and re-issue it) and one per staff feed (a
proceduralist's or a facility's). Each patient enrolled before this revision gets a link here,
so every patient answer carries a ``calendar_url``.

Revision ID: 0014_calendar
Revises: 0013_observations
Create Date: 2026-12-06 21:10:00
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import pathway.db

revision: str = '0014_calendar'
down_revision: str | Sequence[str] | None = '0013_observations'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('calendar_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), server_default='', nullable=False),
    sa.Column('created_at', pathway.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('revoked_at', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('patient', 'proceduralist', 'facility')", name=op.f('ck_calendar_links_kind')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_calendar_links_created_by_id_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_calendar_links_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_links')),
    sa.UniqueConstraint('token', name=op.f('uq_calendar_links_token'))
    )
    with op.batch_alter_table('calendar_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_links_patient_id'), ['patient_id'], unique=False)
    links = sa.table('calendar_links', sa.column('token', sa.String()), sa.column('kind', sa.String()),
                     sa.column('patient_id', sa.Integer()), sa.column('name', sa.String()),
                     sa.column('created_at', pathway.db.UTCDateTime(timezone=True)))
    now = datetime.now(UTC)
    ids = [row[0] for row in op.get_bind().execute(sa.text("SELECT id FROM patients ORDER BY id"))]
    if ids:
        op.bulk_insert(links, [{"token": secrets.token_urlsafe(32), "kind": "patient", "patient_id": pid,
                                "name": "", "created_at": now} for pid in ids])


def downgrade() -> None:
    with op.batch_alter_table('calendar_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_links_patient_id'))
    op.drop_table('calendar_links')
