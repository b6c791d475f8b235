"""One row per episode for the outcomes report (issue 12): what the report filters on, the current
outcome values, and the facts behind its process figures, so one request reads 100,000 narrow rows
instead of joining every observation, hold, step and visit of every procedure.

Derived data, never written directly. Every flush that adds, changes or deletes an episode or one
of its observations, holds, steps (milestones) or appointments notes the episode; at the commit of
the outermost transaction one set-based statement rewrites the rows of every noted episode from
the source tables, inside that transaction (``before_commit`` below: a 10,000-row import rewrites
10,000 rows in 20 statements instead of two per flush). So a reschedule, an edit of the
proceduralist or facility, a cancellation, a replaced value, a signed or removed hold and a visit
marked done are in the row when their transaction commits. Two writers bypass the ORM: the planner
inserts a plan's new steps as Core rows and notes the episode (``episodes_written``); the worker's
step status changes (planned -> due -> missed) change no fact read here. Rows written by plain SQL
(a migration, the bench's seeding) are rewritten by ``refresh_report_rows`` with no episode list.

Values are stored as integer hundredths (``value * 100``; every measure has at most two decimals,
and ``Numeric(8, 2)`` fits in 32 bits this way): exact comparisons against the responder thresholds,
fast grouping on both databases, and a narrow row (a report reads every row in scope 15 times).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, ForeignKey, Index, Integer, String, bindparam, event, text
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column

from pathway.db import Base
from pathway.models.episode import Appointment, Episode, MedicationHold, Milestone
from pathway.models.observation import Observation
from pathway.timeline.vocabulary import BASELINE, TIME_POINTS

# The measures the outcomes report compares with their baseline (a column each per time point below).
REPORT_CODES: tuple[str, ...] = ("nprs", "walk_minutes", "odi")
SCALE = 100  # values are stored in hundredths


def value_column(code: str, time_point: str) -> str:
    """The column of ``ReportEpisode`` holding the current value of ``code`` at ``time_point``."""
    return f"{code}_{time_point}"


VALUE_COLUMNS: tuple[str, ...] = tuple(value_column(c, tp) for c in REPORT_CODES for tp in TIME_POINTS)


# The measures whose medians the report computes (the ODI is reported by its mean change).
MEDIAN_CODES: tuple[str, ...] = ("nprs", "walk_minutes")
_COVERED = ("procedure_at", "status", "proceduralist", "facility")


def _median_index(code: str, time_point: str) -> Index:
    """SQLite only: the (baseline, value) pairs of one measure and time point in order, with the
    report's filters, so grouping them reads the index alone instead of sorting the table (50 ms
    against 15 ms at 100,000 episodes, fourteen times a report). PostgreSQL hashes a table scan as
    fast, in parallel, and would only pay for the upkeep."""
    return Index(f"ix_report_episodes_{code}_{time_point}", value_column(code, BASELINE),
                 value_column(code, time_point), *_COVERED, info={"dialects": ("sqlite",)}).ddl_if(dialect="sqlite")


class ReportEpisode(Base):
    __tablename__ = "report_episodes"
    __table_args__ = tuple(_median_index(c, tp) for c in MEDIAN_CODES for tp in TIME_POINTS if tp != BASELINE)

    episode_id: Mapped[int] = mapped_column(ForeignKey("episodes.id", ondelete="CASCADE"), primary_key=True)
    # The report's scope, copied from the episode.
    procedure_at: Mapped[datetime]
    proceduralist: Mapped[str] = mapped_column(String(200))
    facility: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    # The current value (hundredths) of each measure at each time point: nprs_baseline ... odi_24m.
    nprs_baseline: Mapped[int | None] = mapped_column(Integer)
    nprs_72h: Mapped[int | None] = mapped_column(Integer)
    nprs_visit: Mapped[int | None] = mapped_column(Integer)
    nprs_6w: Mapped[int | None] = mapped_column(Integer)
    nprs_3m: Mapped[int | None] = mapped_column(Integer)
    nprs_6m: Mapped[int | None] = mapped_column(Integer)
    nprs_12m: Mapped[int | None] = mapped_column(Integer)
    nprs_24m: Mapped[int | None] = mapped_column(Integer)
    walk_minutes_baseline: Mapped[int | None] = mapped_column(Integer)
    walk_minutes_72h: Mapped[int | None] = mapped_column(Integer)
    walk_minutes_visit: Mapped[int | None] = mapped_column(Integer)
    walk_minutes_6w: Mapped[int | None] = mapped_column(Integer)
    walk_minutes_3m: Mapped[int | None] = mapped_column(Integer)
    walk_minutes_6m: Mapped[int | None] = mapped_column(Integer)
    walk_minutes_12m: Mapped[int | None] = mapped_column(Integer)
    walk_minutes_24m: Mapped[int | None] = mapped_column(Integer)
    odi_baseline: Mapped[int | None] = mapped_column(Integer)
    odi_72h: Mapped[int | None] = mapped_column(Integer)
    odi_visit: Mapped[int | None] = mapped_column(Integer)
    odi_6w: Mapped[int | None] = mapped_column(Integer)
    odi_3m: Mapped[int | None] = mapped_column(Integer)
    odi_6m: Mapped[int | None] = mapped_column(Integer)
    odi_12m: Mapped[int | None] = mapped_column(Integer)
    odi_24m: Mapped[int | None] = mapped_column(Integer)
    # Held medicines approved and signed (not removed), and of those the ones the patient's current
    # answer says were stopped, received before the procedure's start.
    holds_signed: Mapped[int] = mapped_column(Integer)
    holds_stopped: Mapped[int] = mapped_column(Integer)
    # 1 when the procedure was moved after the patient said they had not stopped a held medicine.
    postponed_for_hold: Mapped[int] = mapped_column(Integer)
    # The follow-up step (not cancelled): its window's end, and 1 when the visit was done inside it.
    follow_up_window_end: Mapped[datetime | None]
    follow_up_in_window: Mapped[int] = mapped_column(Integer)
    # When the first pain score for the 72-hour time point was received (a replaced one too).
    nprs_72h_first_at: Mapped[datetime | None]
    # The earliest physical therapy start marked done (the appointment's time or the step's completion).
    pt_started_at: Mapped[datetime | None]


assert tuple(c.name for c in ReportEpisode.__table__.c if c.name in VALUE_COLUMNS) == VALUE_COLUMNS


def _hundredths(expr: str) -> str:
    return f"CAST(ROUND({expr} * {SCALE}) AS INTEGER)"


_COLUMNS = ("episode_id", "procedure_at", "proceduralist", "facility", "status", *VALUE_COLUMNS, "holds_signed",
            "holds_stopped", "postponed_for_hold", "follow_up_window_end", "follow_up_in_window", "pt_started_at",
            "nprs_72h_first_at")
_UPSERT = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:])


def _refresh_sql(filtered: bool) -> str:
    """``INSERT ... SELECT`` of the rows of the episodes ``:ids`` (every episode when not filtered)."""
    codes = ", ".join(f"'{c}'" for c in REPORT_CODES)
    only = " AND episode_id IN :ids" if filtered else ""
    pivot = ", ".join(
        f"MAX(CASE WHEN o.code = '{c}' AND o.time_point = '{tp}' THEN {_hundredths('o.value')} END) "
        f"AS {value_column(c, tp)}" for c in REPORT_CODES for tp in TIME_POINTS)
    signed = "h.episode_id = e.id AND h.removed_at IS NULL AND h.signed_at IS NOT NULL AND h.clearance = 'approved'"
    follow_up = "m.episode_id = e.id AND m.kind = 'follow_up' AND m.ref = '' AND m.status <> 'cancelled'"
    columns = ", ".join(_COLUMNS)
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
        + (f" WHERE e.id IN :ids ON CONFLICT (episode_id) DO UPDATE SET {_UPSERT}" if filtered else ""))


def refresh_report_rows(connection: Connection, episode_ids: Iterable[int] | None = None) -> None:
    """Rewrite the report rows of these episodes (every episode when None) from the source tables:
    set-based, on SQLite and PostgreSQL.

    Two transactions may rewrite one episode's row at once (a reply's answer while a coordinator
    moves the procedure). The DELETE waits for the other's row; then, read committed, it cannot
    see the row the other inserted, so the INSERT, whose own snapshot does, updates it on the key
    conflict instead of failing: the row is computed from what both committed."""
    if episode_ids is None:
        connection.execute(text("DELETE FROM report_episodes"))
        connection.execute(text(_refresh_sql(False)))
        return
    ids = sorted(set(episode_ids))
    if not ids:
        return
    for start in range(0, len(ids), 500):  # a bounded parameter list per statement
        chunk = ids[start:start + 500]
        connection.execute(text("DELETE FROM report_episodes WHERE episode_id IN :ids")
                           .bindparams(bindparam("ids", chunk, expanding=True)))
        connection.execute(text(_refresh_sql(True)).bindparams(bindparam("ids", chunk, expanding=True)))


def episodes_written(session: Session, episode_ids: Iterable[int]) -> None:
    """Note episodes whose source rows were written without a flush seeing them (the planner's
    Core insert of a plan's new steps): their rows are rewritten with the others at the commit."""
    session.info.setdefault(_PENDING, set()).update(episode_ids)


def write_pending(session: Session) -> None:
    """Rewrite the rows of the episodes written so far in this transaction (the commit does this;
    a reader of the rows inside the same transaction, the report, calls it first)."""
    ids = session.info.pop(_PENDING, None)
    if ids:
        refresh_report_rows(session.connection(), ids)


_PENDING = "report_episodes_pending"
_BY_EPISODE_ID = (Observation, MedicationHold, Milestone, Appointment)


def _episode_of(obj: Any) -> int | None:
    if isinstance(obj, Episode):
        return obj.id
    if isinstance(obj, _BY_EPISODE_ID):
        return obj.episode_id
    return None


@event.listens_for(Session, "after_flush")
def _note_flushed_episodes(session: Session, context: Any) -> None:
    episode_ids = {i for o in (*session.new, *session.dirty, *session.deleted) if (i := _episode_of(o)) is not None}
    if episode_ids:
        episodes_written(session, episode_ids)


@event.listens_for(Session, "before_commit")
def _write_at_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the outermost commit writes (an enclosing rollback may follow)
    # The commit flushes after this hook: flush first, so the last changes are noted too.
    session.flush()
    write_pending(session)


@event.listens_for(Session, "after_transaction_end")
def _forget_at_the_end(session: Session, transaction: SessionTransaction) -> None:
    # Only when the outermost transaction ends (committed: written above; rolled back: nothing to
    # write). A savepoint rolled back keeps the notes: rewriting a row again is harmless, missing
    # one is not.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
