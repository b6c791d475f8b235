"""The follow-up board: every active episode with its 72-hour check, follow-up visit and PT start.

The state of each part is computed in SQL (CASE expressions over the episode's milestones and
appointments), so filtering, counting and paging are single bounded queries on the indexed
``episodes.procedure_at`` range; nothing is loaded per episode in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from pathway.models import Appointment, Episode, Milestone, Patient, Task
from pathway.schemas.inputs import BoardQuery
from pathway.schemas.vocab import BOARD_COUNT_KEYS as COUNT_KEYS
from pathway.schemas.vocab import BOARD_FILTERS as STATUS_FILTERS
from pathway.schemas.vocab import FOLLOW_UP_STATES
from pathway.services.base import Actor, Env, audit, read_input
from pathway.timeline.vocabulary import CARE_TEAM

__all__ = ["FILTER_ALIASES", "FILTER_CHOICES", "FOLLOW_UP_STATES", "STATUS_FILTERS", "Board", "BoardRow",
           "followup_board"]

# Which episodes are on the board: procedures from this many days ago (day 10 follow-up window
# plus the 14-day PT window plus three weeks to close loose ends) ...
BOARD_LOOKBACK_DAYS = 45
# ... to this many days ahead (so a visit can be booked before the procedure).
BOARD_LOOKAHEAD_DAYS = 30
# The 72-hour check is "due" for a day after its time, then "overdue".
CHECK_72H_GRACE = timedelta(hours=24)
# Same rule as the worklist: a follow-up visit should be booked by day 5 after the procedure.
FOLLOW_UP_BOOK_BY_DAY = 5

# 'overdue' = any part overdue; 'in_window' = follow-up booked in its window; the rest match
# the follow-up state; 'red_flag' = an open red-flag task for the patient.
# 'booked_in_window' (the follow-up state's own name) filters exactly as 'in_window' does: both are
# accepted, but a list of choices offers each filter once, under the tiles' name.
FILTER_ALIASES = {"booked_in_window": "in_window"}
FILTER_CHOICES = tuple(dict.fromkeys(FILTER_ALIASES.get(f, f) for f in STATUS_FILTERS))


@dataclass(frozen=True)
class BoardRow:
    episode_id: int
    patient_id: int
    patient_name: str
    mrn: str
    proceduralist: str
    procedure_at: datetime
    check_72h: str
    follow_up: str
    follow_up_at: datetime | None
    pt: str
    pt_at: datetime | None
    red_flag: bool
    patient_timezone: str = ""


@dataclass(frozen=True)
class Board:
    rows: list[BoardRow]
    counts: dict[str, int]
    total: int
    proceduralists: list[str]  # everyone with an episode in the board's range: the filter's choices


def _states(env: Env) -> tuple[Any, dict[str, Any]]:
    """The joined select of the board's scope and the CASE expressions for each part."""
    now = env.now
    tz = env.rules.clinic.tz
    today = now.astimezone(tz).date()
    book_by = datetime.combine(today - timedelta(days=FOLLOW_UP_BOOK_BY_DAY - 1), time(0), tz)
    m72, mfu, mpt = aliased(Milestone), aliased(Milestone), aliased(Milestone)
    afu, apt = aliased(Appointment), aliased(Appointment)

    check_72h = case(
        (m72.id.is_(None), "n/a"),
        (m72.status == "cancelled", "n/a"),
        (m72.status == "done", "done"),
        (m72.status == "missed", "overdue"),
        (or_(m72.due_at.is_(None), m72.due_at > now), "pending"),
        (m72.due_at > now - CHECK_72H_GRACE, "due"),
        else_="overdue",
    )
    booked_fu = and_(afu.id.is_not(None), afu.status == "booked")
    follow_up = case(
        (or_(mfu.status == "done", afu.status == "done"), "done"),
        (or_(mfu.status == "missed", afu.status == "missed"), "missed"),
        (and_(booked_fu, afu.appointment_at >= now, afu.appointment_at >= mfu.window_start,
              afu.appointment_at < mfu.window_end), "booked_in_window"),
        (and_(booked_fu, afu.appointment_at >= now), "booked_out_of_window"),
        (booked_fu, "overdue"),  # the visit's time passed and nobody recorded it
        (mfu.window_end <= now, "missed"),
        (Episode.procedure_at < book_by, "overdue"),  # not booked by day 5
        else_="unbooked",
    )
    pt = case(
        (or_(mpt.status == "done", apt.status == "done"), "done"),
        (and_(apt.id.is_not(None), apt.status == "booked"), "booked"),
        (mpt.id.is_(None), "not_due"),
        (or_(mpt.status == "missed", apt.status == "missed"), "overdue"),
        (mpt.window_end <= now, "overdue"),
        (or_(mfu.status == "done", afu.status == "done", mpt.window_start <= now), "unbooked"),
        else_="not_due",
    )
    red_flag = exists().where(Task.patient_id == Episode.patient_id, Task.kind == "red_flag",
                              Task.resolved_at.is_(None))
    stmt = (
        select(Episode.id)
        .join(Patient, Patient.id == Episode.patient_id)
        .outerjoin(m72, and_(m72.episode_id == Episode.id, m72.kind == "check_72h", m72.ref == ""))
        .outerjoin(mfu, and_(mfu.episode_id == Episode.id, mfu.kind == "follow_up", mfu.ref == ""))
        .outerjoin(mpt, and_(mpt.episode_id == Episode.id, mpt.kind == "pt_start", mpt.ref == ""))
        .outerjoin(afu, and_(afu.episode_id == Episode.id, afu.kind == "follow_up", afu.status != "cancelled"))
        .outerjoin(apt, and_(apt.episode_id == Episode.id, apt.kind == "pt_start", apt.status != "cancelled"))
        .where(Episode.status.in_(("scheduled", "completed")),
               Episode.procedure_at >= now - timedelta(days=BOARD_LOOKBACK_DAYS),
               Episode.procedure_at < now + timedelta(days=BOARD_LOOKAHEAD_DAYS))
    )
    parts = {"check_72h": check_72h, "follow_up": follow_up, "pt": pt, "red_flag": red_flag,
             "follow_up_at": afu.appointment_at, "pt_at": apt.appointment_at}
    return stmt, parts


def _condition(parts: dict[str, Any], status: str) -> Any:
    if status == "overdue":
        return or_(parts["check_72h"] == "overdue", parts["follow_up"] == "overdue", parts["pt"] == "overdue")
    if status == "in_window":
        return parts["follow_up"] == "booked_in_window"
    if status == "red_flag":
        return parts["red_flag"]
    return parts["follow_up"] == status


def followup_board(
    session: Session,
    env: Env,
    actor: Actor,
    *,
    status: str | None = None,
    proceduralist: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> Board:
    """The board's rows (one page), counts per status and the number of rows matching ``status``."""
    actor.require(*CARE_TEAM)
    status = read_input(BoardQuery, {"status": (status or "").strip()}).status  # the API's rule for status
    if status == "all":
        status = None
    limit = max(1, min(int(limit), 500))
    offset = max(0, int(offset))
    base, parts = _states(env)
    proceduralist = (proceduralist or "").strip() or None
    if proceduralist:  # one proceduralist however each episode capitalised the name
        base = base.where(func.lower(Episode.proceduralist) == func.lower(literal(proceduralist)))

    counted = base.add_columns(
        parts["check_72h"].label("c72"), parts["follow_up"].label("fu"), parts["pt"].label("pt"),
        parts["red_flag"].label("rf"),
    ).subquery()

    def n(cond: Any) -> Any:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    c = counted.c
    count_row = session.execute(select(
        func.count(),
        n(or_(c.c72 == "overdue", c.fu == "overdue", c.pt == "overdue")),
        n(c.rf == literal(True)),
        n(c.fu == "unbooked"),
        n(c.fu == "booked_in_window"),
        n(c.fu == "booked_out_of_window"),
        n(c.fu == "done"),
        n(c.fu == "missed"),
    ).select_from(counted)).one()
    counts = {key: int(value or 0) for key, value in zip(COUNT_KEYS, count_row, strict=True)}

    filtered = base.where(_condition(parts, status)) if status else base
    total = counts["all"] if status is None else int(
        session.scalar(select(func.count()).select_from(filtered.subquery())) or 0)
    page = (
        filtered.add_columns(
            Episode.patient_id, Patient.family_name, Patient.given_name, Patient.mrn, Patient.timezone,
            Episode.proceduralist, Episode.procedure_at,
            parts["check_72h"], parts["follow_up"], parts["follow_up_at"], parts["pt"], parts["pt_at"],
            parts["red_flag"],
        )
        .order_by(parts["red_flag"].desc(), Episode.procedure_at, Episode.id)
        .limit(limit)
        .offset(offset)
    )
    rows = [
        BoardRow(
            episode_id=r[0], patient_id=r[1], patient_name=f"{r[2]}, {r[3]}", mrn=r[4], patient_timezone=r[5],
            proceduralist=r[6], procedure_at=r[7], check_72h=r[8], follow_up=r[9], follow_up_at=r[10], pt=r[11],
            pt_at=r[12], red_flag=bool(r[13]),
        )
        for r in session.execute(page)
    ]
    audit(session, env, actor, "followups.view", "followups", None,
          detail={"patient_ids": sorted({r.patient_id for r in rows})})
    return Board(rows=rows, counts=counts, total=total, proceduralists=proceduralists(session, env, actor))


def proceduralists(session: Session, env: Env, actor: Actor, *, limit: int = 100) -> list[str]:
    """The proceduralists of the board's episodes, for the filter's choices: each name once, even
    when episodes spell it in different capitals ("Dr. Lee", "dr. lee"), as the filter matches both."""
    actor.require(*CARE_TEAM)
    key = func.lower(Episode.proceduralist)
    stmt = (
        select(func.min(Episode.proceduralist))
        .where(Episode.status.in_(("scheduled", "completed")), Episode.proceduralist != "",
               Episode.procedure_at >= env.now - timedelta(days=BOARD_LOOKBACK_DAYS),
               Episode.procedure_at < env.now + timedelta(days=BOARD_LOOKAHEAD_DAYS))
        .group_by(key)
        .order_by(key)
        .limit(limit)
    )
    return list(session.scalars(stmt))
