"""Record outcomes at time points, and keep a replaced value for the history

Issue 12 ("Outcomes"): an observation may now also be standing minutes, the Oswestry Disability
Index, the Zurich Claudication Questionnaire symptom score or the patient's global impression of
change, recorded at a visit or on a call as well as by text or by staff. A value recorded again
for the same episode, time point and measure replaces the earlier one, which stays with
``superseded_at`` and ``superseded_by_id``.

Revision ID: 0015_outcomes
Revises: 0014_calendar
Create Date: 2026-12-06 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pathway.db

revision: str = '0015_outcomes'
down_revision: str | Sequence[str] | None = '0014_calendar'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CODES_BEFORE = "code IN ('nprs', 'stopped_medicine', 'walk_minutes')"
CODES_AFTER = "code IN ('nprs', 'stopped_medicine', 'walk_minutes', 'stand_minutes', 'odi', 'zcq_symptom', 'global_change')"
SOURCES_BEFORE = "source IN ('sms', 'staff')"
SOURCES_AFTER = "source IN ('sms', 'staff', 'visit', 'phone')"


def _checks(codes: str, sources: str) -> None:
    with op.batch_alter_table('observations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_observations_code'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_observations_code'), codes)
        batch_op.drop_constraint(batch_op.f('ck_observations_source'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_observations_source'), sources)


def upgrade() -> None:
    _checks(CODES_AFTER, SOURCES_AFTER)
    with op.batch_alter_table('observations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('superseded_at', pathway.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('superseded_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_observations_superseded_by_id_observations'), 'observations',
                                    ['superseded_by_id'], ['id'])
        batch_op.create_index('ix_observations_code_time_point_episode_id', ['code', 'time_point', 'episode_id'],
                              unique=False)


def downgrade() -> None:
    codes = "('stand_minutes', 'odi', 'zcq_symptom', 'global_change')"
    # A value entered at a visit or on a call was recorded by a person: before this revision, "staff".
    op.execute("UPDATE observations SET source = 'staff' WHERE source IN ('visit', 'phone')")
    op.execute(f"UPDATE observations SET superseded_by_id = NULL WHERE superseded_by_id IN "
               f"(SELECT id FROM observations WHERE code IN {codes})")
    op.execute(f"DELETE FROM observations WHERE code IN {codes}")
    with op.batch_alter_table('observations', schema=None) as batch_op:
        batch_op.drop_index('ix_observations_code_time_point_episode_id')
        batch_op.drop_constraint(batch_op.f('fk_observations_superseded_by_id_observations'), type_='foreignkey')
        batch_op.drop_column('superseded_by_id')
        batch_op.drop_column('superseded_at')
    _checks(CODES_BEFORE, SOURCES_BEFORE)
