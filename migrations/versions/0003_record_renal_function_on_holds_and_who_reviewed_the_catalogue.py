"""Record renal function on holds and who reviewed the catalogue

A hold may carry the patient's creatinine clearance (dabigatran's interval follows it), and
each clinician review of a medicine-catalogue version is recorded (until the current version
has one, every staff page says the catalogue is not yet reviewed).

Revision ID: 0003_catalogue
Revises: 0002
Create Date: 2026-12-06 03:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pathway.db

revision: str = '0003_catalogue'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('catalogue_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=40), nullable=False),
    sa.Column('reviewed_by', sa.String(length=200), nullable=False),
    sa.Column('reviewed_at', pathway.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_reviews'))
    )
    with op.batch_alter_table('catalogue_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalogue_reviews_version'), ['version'], unique=False)

    with op.batch_alter_table('medication_holds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('crcl_ml_min', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('medication_holds', schema=None) as batch_op:
        batch_op.drop_column('crcl_ml_min')

    with op.batch_alter_table('catalogue_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalogue_reviews_version'))

    op.drop_table('catalogue_reviews')
