"""Count versions of patients and episodes so a stale edit is refused

Every change to a patient or an episode (its holds and appointments included) raises its
``version``; a change sent with an older version, or a stale ``If-Match``, answers 409.

Revision ID: 0012_versions
Revises: 0011_api_tokens
Create Date: 2026-12-06 20:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012_versions'
down_revision: str | Sequence[str] | None = '0011_api_tokens'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ('patients', 'episodes'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))


def downgrade() -> None:
    for table in ('episodes', 'patients'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('version')
