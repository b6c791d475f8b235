"""Index the current outcome values for the outcomes report

Issue 12 ("Outcomes"): the report pairs each current value at a time point with the episode's
current baseline. A partial index of the current rows (``superseded_at IS NULL``) that also holds
the value answers both sides of that pairing from the index alone, without reading the table.

Revision ID: 0017_report_indexes
Revises: 0015_outcomes
Create Date: 2026-12-06 23:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017_report_indexes'
down_revision: str | Sequence[str] | None = '0015_outcomes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT = sa.text("superseded_at IS NULL")


def upgrade() -> None:
    op.create_index('ix_observations_code_time_point_episode_id_value', 'observations',
                    ['code', 'time_point', 'episode_id', 'value'], unique=False,
                    sqlite_where=CURRENT, postgresql_where=CURRENT)


def downgrade() -> None:
    op.drop_index('ix_observations_code_time_point_episode_id_value', table_name='observations',
                  sqlite_where=CURRENT, postgresql_where=CURRENT)
