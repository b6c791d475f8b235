"""Find patients by name in any case and without accents

Issue 15 ("Pages a coordinator can work in all day"): the patient search takes "Ana Ruiz",
"Ruiz, Ana" and "ruiz ana", with or without accents, and an MRN typed in lower case, and stays
fast at 100,000 patients. Each patient keeps their family and given names folded (lower case,
no accents, words split by single spaces) in ``search_family`` and ``search_given``, compared
byte by byte (collation "C" on PostgreSQL) so a prefix is one range on an index. Patients
enrolled before this revision get their keys here.

Revision ID: 0018_patient_search
Revises: 0017_report_indexes
Create Date: 2026-12-06 23:30:00
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018_patient_search'
down_revision: str | Sequence[str] | None = '0017_report_indexes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = sa.String(length=120).with_variant(sa.String(length=120, collation="C"), "postgresql")


def _fold(text: str) -> str:
    """``pathway.services.patients.fold`` as it was when this revision was written."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    kept = "".join(c if c.isalnum() else ("" if c in "'\u2019`" else " ") for c in bare)
    return " ".join(kept.split())[:120]


def upgrade() -> None:
    # Plain ALTER TABLE (no batch copy of the table on SQLite, which other tables' rows refer to).
    op.add_column('patients', sa.Column('search_family', KEY, server_default='', nullable=False))
    op.add_column('patients', sa.Column('search_given', KEY, server_default='', nullable=False))
    op.create_index('ix_patients_search_family_given', 'patients', ['search_family', 'search_given'], unique=False)
    op.create_index('ix_patients_search_given_family', 'patients', ['search_given', 'search_family'], unique=False)
    bind = op.get_bind()
    patients = sa.table('patients', sa.column('id', sa.Integer()), sa.column('search_family', sa.String()),
                        sa.column('search_given', sa.String()))
    rows = bind.execute(sa.text("SELECT id, family_name, given_name FROM patients ORDER BY id")).all()
    for start in range(0, len(rows), 5000):
        batch = [{"pid": r[0], "family": _fold(r[1]), "given": _fold(r[2])} for r in rows[start:start + 5000]]
        bind.execute(patients.update().where(patients.c.id == sa.bindparam("pid"))
                     .values(search_family=sa.bindparam("family"), search_given=sa.bindparam("given")), batch)


def downgrade() -> None:
    op.drop_index('ix_patients_search_given_family', table_name='patients')
    op.drop_index('ix_patients_search_family_given', table_name='patients')
    op.drop_column('patients', 'search_given')  # SQLite 3.35+ drops a column in place
    op.drop_column('patients', 'search_family')
