"""End sessions on demand and throttle sign-ins by address

Signing out, a password change, deactivation and an admin's "sign out everywhere" raise the
account's session generation, which every session cookie must match. Failed sign-ins are
counted per client address and per (account, address), not per account, so a stranger cannot
lock a user out.

Revision ID: 0007_session_generation
Revises: 0006_removed_holds
Create Date: 2026-12-06 05:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pathway.db

revision: str = '0007_session_generation'
down_revision: str | Sequence[str] | None = '0006_removed_holds'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False))
    op.create_table(
        'login_throttles',
        sa.Column('key', sa.String(length=128), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_failure_at', pathway.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('locked_until', pathway.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttles')),
    )


def downgrade() -> None:
    op.drop_table('login_throttles')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
