"""Name API tokens and let them expire

Every API token gets a name (what it is for) and an expiry. Tokens made before this revision had
neither: they are named "(unnamed)" and expire 90 days after the upgrade (the default lifetime),
so no script stops at the upgrade and none is left valid for ever.

Revision ID: 0011_api_tokens
Revises: 0010_thread
Create Date: 2026-12-06 20:20:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

import pathway.db

revision: str = '0011_api_tokens'
down_revision: str | Sequence[str] | None = '0010_thread'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=60), server_default='', nullable=False))
        batch_op.add_column(sa.Column('expires_at', pathway.db.UTCDateTime(timezone=True), nullable=True))
    tokens = sa.table('api_tokens', sa.column('name', sa.String()),
                      sa.column('expires_at', pathway.db.UTCDateTime(timezone=True)))
    op.execute(tokens.update().values(name='(unnamed)', expires_at=datetime.now(UTC) + timedelta(days=90)))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=pathway.db.UTCDateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
        batch_op.drop_column('name')
