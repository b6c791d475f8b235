"""Record what the patient calls each held medicine

A hold may carry `patient_label` ("Plavix", "the small white pill"): the patient's texts and
printed hold plan name the medicine by it, so two held medicines never read the same.

Revision ID: 0004_patient_label
Revises: 0003_catalogue
Create Date: 2026-12-06 03:35:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004_patient_label'
down_revision: str | Sequence[str] | None = '0003_catalogue'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('medication_holds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('patient_label', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('medication_holds', schema=None) as batch_op:
        batch_op.drop_column('patient_label')
