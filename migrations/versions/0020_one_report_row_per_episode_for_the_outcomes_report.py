"""One report row per episode for the outcomes report, in place of the summary rows

Issue 12 ("Outcomes"): the report must answer within a second at 100,000 episodes. At 100,000
episodes the summary rows of 0019 (three per episode, joined to the episodes) and the process
figures (joins of every hold, text, step and visit) took 2.4 s on PostgreSQL. This revision keeps
one row per episode with the report's scope (procedure time, proceduralist, facility, status), the
current value of each measure at each time point in hundredths, and the facts behind the process
figures; the ORM's flush keeps it in step from now on (``pathway/models/report.py``). It is filled
here from the source tables, set-based (a frozen copy of the model's statement: a migration must
not change with the code).

Revision ID: 0020_report_episodes
Revises: 0019_outcome_summaries
Create Date: 2026-12-07 02:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pathway.db

revision: str = '0020_report_episodes'
down_revision: str | Sequence[str] | None = '0019_outcome_summaries'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME_POINTS = ("baseline", "72h", "visit", "6w", "3m", "6m", "12m", "24m")
REPORT_CODES = ("nprs", "walk_minutes", "odi")
SCALE = 100
VALUE_COLUMNS = tuple(f"{c}_{tp}" for c in REPORT_CODES for tp in TIME_POINTS)


def value_column(code: str, time_point: str) -> str:
    return f"{code}_{time_point}"


def _hundredths(expr: str) -> str:
    return f"CAST(ROUND({expr} * {SCALE}) AS INTEGER)"


def _refresh_sql(filtered: bool) -> str:
    """``INSERT ... SELECT`` of the rows of the episodes ``:ids`` (every episode when not filtered)."""
    codes = ", ".join(f"'{c}'" for c in REPORT_CODES)
    only = " AND episode_id IN :ids" if filtered else ""
    pivot = ", ".join(
        f"MAX(CASE WHEN o.code = '{c}' AND o.time_point = '{tp}' THEN {_hundredths('o.value')} END) "
        f"AS {value_column(c, tp)}" for c in REPORT_CODES for tp in TIME_POINTS)
    signed = "h.episode_id = e.id AND h.removed_at IS NULL AND h.signed_at IS NOT NULL AND h.clearance = 'approved'"
    follow_up = "m.episode_id = e.id AND m.kind = 'follow_up' AND m.ref = '' AND m.status <> 'cancelled'"
    columns = ", ".join(("episode_id", "procedure_at", "proceduralist", "facility", "status", *VALUE_COLUMNS,
                         "holds_signed", "holds_stopped", "postponed_for_hold", "follow_up_window_end",
                         "follow_up_in_window", "pt_started_at", "nprs_72h_first_at"))
    return (
        f"INSERT INTO report_episodes ({columns}) "
        "SELECT e.id, e.procedure_at, e.proceduralist, e.facility, e.status, "
        + ", ".join(f"v.{name}" for name in VALUE_COLUMNS) + ", "
        f"(SELECT COUNT(*) FROM medication_holds h WHERE {signed}), "
        f"(SELECT COUNT(*) FROM medication_holds h WHERE {signed} AND EXISTS (SELECT 1 FROM observations o "
        "WHERE o.episode_id = e.id AND (o.hold_id = h.id OR o.hold_id IS NULL) AND o.code = 'stopped_medicine' "
        "AND o.value = 1 AND o.superseded_at IS NULL AND o.received_at <= e.procedure_at)), "
        "CASE WHEN e.moved_at IS NOT NULL AND EXISTS (SELECT 1 FROM observations o WHERE o.episode_id = e.id "
        "AND o.code = 'stopped_medicine' AND o.value = 0 AND o.received_at < e.moved_at) THEN 1 ELSE 0 END, "
        f"(SELECT MIN(m.window_end) FROM milestones m WHERE {follow_up}), "
        f"CASE WHEN EXISTS (SELECT 1 FROM milestones m WHERE {follow_up} AND ("
        "EXISTS (SELECT 1 FROM appointments a WHERE a.episode_id = e.id AND a.kind = 'follow_up' "
        "AND a.status = 'done' AND a.appointment_at >= m.window_start AND a.appointment_at < m.window_end) "
        "OR (m.status = 'done' AND m.completed_at >= m.window_start AND m.completed_at < m.window_end))) "
        "THEN 1 ELSE 0 END, "
        "(SELECT MIN(t) FROM (SELECT a.appointment_at AS t FROM appointments a WHERE a.episode_id = e.id "
        "AND a.kind = 'pt_start' AND a.status = 'done' UNION ALL SELECT m.completed_at FROM milestones m "
        "WHERE m.episode_id = e.id AND m.kind = 'pt_start' AND m.status = 'done') pt), "
        "(SELECT MIN(o.received_at) FROM observations o WHERE o.episode_id = e.id AND o.code = 'nprs' "
        "AND o.time_point = '72h') "
        "FROM episodes e LEFT JOIN ("
        f"SELECT o.episode_id, {pivot} FROM observations o "
        "JOIN (SELECT MAX(id) AS id FROM observations WHERE superseded_at IS NULL AND time_point IS NOT NULL "
        f"AND code IN ({codes}){only} GROUP BY episode_id, code, time_point) latest ON latest.id = o.id "
        "GROUP BY o.episode_id) v ON v.episode_id = e.id"
        + (" WHERE e.id IN :ids" if filtered else ""))



BACKFILL = _refresh_sql(False)

# 0019's own statement, for the downgrade.
_codes = ", ".join(f"'{c}'" for c in REPORT_CODES)
_columns = ", ".join(f"at_{tp}" for tp in TIME_POINTS)
_values = ", ".join(f"MAX(CASE WHEN o.time_point = '{tp}' THEN o.value END)" for tp in TIME_POINTS)
SUMMARY_BACKFILL = (
    f"INSERT INTO outcome_summaries (episode_id, code, {_columns}) "
    f"SELECT o.episode_id, o.code, {_values} FROM observations o "
    "JOIN (SELECT MAX(id) AS id FROM observations WHERE superseded_at IS NULL AND time_point IS NOT NULL "
    f"AND code IN ({_codes}) GROUP BY episode_id, code, time_point) latest ON latest.id = o.id "
    "GROUP BY o.episode_id, o.code"
)


def upgrade() -> None:
    op.create_table('report_episodes',
    sa.Column('episode_id', sa.Integer(), nullable=False),
    sa.Column('procedure_at', pathway.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('proceduralist', sa.String(length=200), nullable=False),
    sa.Column('facility', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    *(sa.Column(name, sa.Integer(), nullable=True) for name in VALUE_COLUMNS),
    sa.Column('holds_signed', sa.Integer(), nullable=False),
    sa.Column('holds_stopped', sa.Integer(), nullable=False),
    sa.Column('postponed_for_hold', sa.Integer(), nullable=False),
    sa.Column('follow_up_window_end', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('follow_up_in_window', sa.Integer(), nullable=False),
    sa.Column('pt_started_at', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('nprs_72h_first_at', pathway.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['episode_id'], ['episodes.id'], name=op.f('fk_report_episodes_episode_id_episodes'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('episode_id', name=op.f('pk_report_episodes'))
    )
    if op.get_bind().dialect.name == "sqlite":  # see pathway/models/report.py: _median_index
        for code in ("nprs", "walk_minutes"):
            for tp in TIME_POINTS[1:]:
                op.create_index(f'ix_report_episodes_{code}_{tp}', 'report_episodes',
                                [f'{code}_baseline', f'{code}_{tp}', 'procedure_at', 'status', 'proceduralist',
                                 'facility'], unique=False)
    # Statistics first: without them PostgreSQL plans the per-episode look-ups of a large database
    # as scans (a 100,000-episode backfill took 247 s instead of 9 s).
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE episodes, observations, medication_holds, milestones, appointments")
    op.execute(BACKFILL)
    op.drop_table('outcome_summaries')


def downgrade() -> None:
    op.create_table('outcome_summaries',
    sa.Column('episode_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    *(sa.Column(f'at_{tp}', sa.Numeric(precision=8, scale=2), nullable=True) for tp in TIME_POINTS),
    sa.ForeignKeyConstraint(['episode_id'], ['episodes.id'], name=op.f('fk_outcome_summaries_episode_id_episodes')),
    sa.PrimaryKeyConstraint('episode_id', 'code', name=op.f('pk_outcome_summaries'))
    )
    op.execute(SUMMARY_BACKFILL)
    op.drop_table('report_episodes')
