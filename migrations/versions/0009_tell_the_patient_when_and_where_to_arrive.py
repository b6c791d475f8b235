"""Tell the patient when and where to arrive

An episode may carry its own arrival time (`arrival_at`; without one the day-before text says the
pathway's default lead before the procedure) and the facility's address line
(`facility_address`), both given to the patient in the day-before text.

Revision ID: 0009_arrival
Revises: 0007_session_generation
Create Date: 2026-12-06 20:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pathway.db

revision: str = '0009_arrival'
down_revision: str | Sequence[str] | None = '0007_session_generation'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('episodes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('arrival_at', pathway.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('facility_address', sa.String(length=60), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('episodes', schema=None) as batch_op:
        batch_op.drop_column('facility_address')
        batch_op.drop_column('arrival_at')
