"""Summarise the current outcome values per episode and measure for the outcomes report

Issue 12 ("Outcomes"): the report must answer within a second at 100,000 episodes. Instead of
pairing every current value with the episode's current baseline on each request (24 values per
episode), it reads one row per episode and measure (NPRS, walking minutes, ODI) holding the current
value at the baseline and at each time point. ``add_observation`` keeps the rows in step from now
on; this revision fills them from the current observations: for each episode, measure and time
point the latest current row (the highest id, as ``current_value`` reads it).

Revision ID: 0019_outcome_summaries
Revises: 0018_patient_search
Create Date: 2026-12-06 23:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0019_outcome_summaries'
down_revision: str | Sequence[str] | None = '0018_patient_search'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME_POINTS = ("baseline", "72h", "visit", "6w", "3m", "6m", "12m", "24m")
CODES = ("nprs", "walk_minutes", "odi")
_codes = ", ".join(f"'{c}'" for c in CODES)
_columns = ", ".join(f"at_{tp}" for tp in TIME_POINTS)
_values = ", ".join(f"MAX(CASE WHEN o.time_point = '{tp}' THEN o.value END)" for tp in TIME_POINTS)
# Set-based, on SQLite and PostgreSQL alike (bench/reports.py runs it too, after seeding).
BACKFILL = (
    f"INSERT INTO outcome_summaries (episode_id, code, {_columns}) "
    f"SELECT o.episode_id, o.code, {_values} FROM observations o "
    "JOIN (SELECT MAX(id) AS id FROM observations WHERE superseded_at IS NULL AND time_point IS NOT NULL "
    f"AND code IN ({_codes}) GROUP BY episode_id, code, time_point) latest ON latest.id = o.id "
    "GROUP BY o.episode_id, o.code"
)


def upgrade() -> None:
    op.create_table('outcome_summaries',
    sa.Column('episode_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    *(sa.Column(f'at_{tp}', sa.Numeric(precision=8, scale=2), nullable=True) for tp in TIME_POINTS),
    sa.ForeignKeyConstraint(['episode_id'], ['episodes.id'], name=op.f('fk_outcome_summaries_episode_id_episodes')),
    sa.PrimaryKeyConstraint('episode_id', 'code', name=op.f('pk_outcome_summaries'))
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_table('outcome_summaries')
