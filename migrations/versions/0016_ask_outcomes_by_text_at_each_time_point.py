"""Ask outcomes by text at each time point

Issue 12 ("Outcomes"): a new kind of text, ``outcome``, asks the patient at each outcome time
point for their pain, how long they can walk and (from 6 weeks on) how they are overall, one
question per text. Answers are observations at that time point.

Revision ID: 0016_outcome_texts
Revises: 0015_outcomes
Create Date: 2026-12-06 23:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0016_outcome_texts'
down_revision: str | Sequence[str] | None = '0015_outcomes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_BEFORE = "kind IN ('enrolment', 'last_dose', 'pre_procedure', 'restart', 'check_72h', 'follow_up', 'pt_start', 'stop_confirm', 'date_changed', 'cancelled', 'reply', 'staff')"
KINDS_AFTER = "kind IN ('enrolment', 'last_dose', 'pre_procedure', 'restart', 'check_72h', 'follow_up', 'pt_start', 'stop_confirm', 'date_changed', 'cancelled', 'outcome', 'reply', 'staff')"


def _message_kinds(check: str) -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_messages_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_messages_kind'), check)


def upgrade() -> None:
    _message_kinds(KINDS_AFTER)


def downgrade() -> None:
    # The answers stay (observations keep their values); the question texts go, and the link to them.
    op.execute("UPDATE observations SET message_id = NULL WHERE message_id IN "
               "(SELECT id FROM messages WHERE kind = 'outcome')")
    op.execute("DELETE FROM message_events WHERE message_id IN (SELECT id FROM messages WHERE kind = 'outcome')")
    op.execute("DELETE FROM messages WHERE kind = 'outcome'")
    _message_kinds(KINDS_BEFORE)
