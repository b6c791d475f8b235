"""The outcomes report (issue 12): pain, walking and disability at each time point against each
episode's own baseline, the share of responders with its 95% interval, the figures clinics quote,
and process figures for the same procedures.

Everything is counted in the database: one statement pairs each current time-point value with the
episode's current baseline and aggregates them per measure and time point (counts, responders, the
mean change, and medians by ``row_number``/``count`` over each group: the middle value, or the mean
of the two middle values when the count is even); Python only rounds and computes the Wilson
interval from the two counts. No row of an episode is loaded.

Definitions (the page and the API say the same):
- The procedures: episodes not cancelled whose procedure date, in the clinic's time zone, lies in
  ``from``..``to`` (both included), of the proceduralist and facility asked for.
- A time point has passed when its window has closed: at least ``window_end_day + 1`` whole days
  have gone by since the procedure's start (the clock's now; the window ends on the patient-local
  day ``window_end_day``, so this never counts a window still open and is late by at most a day).
  ``episodes`` counts the procedures whose time point has passed; only they are counted further.
- Only current values count (``superseded_at`` null: a replaced value is history).
- Change is measured against the episode's own baseline, for episodes with both values; ``n``
  counts them. ``median_change_pct`` is the median of 100 x (value - baseline) / baseline, leaving
  out a baseline of 0 (such an episode stays in ``n`` and is never a responder).
- Responders (``pathway/data/outcomes.toml``): NPRS down by >= 30% and >= 2 points; walking at
  least doubled or >= 30 minutes; ODI down by >= 10 points. ``pct`` = 100 x responders / n with
  its 95% Wilson interval, in percent, one decimal (half up).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    and_,
    case,
    cast,
    exists,
    extract,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from pathway.db import UTCDateTime
from pathway.models import (
    Appointment,
    Episode,
    MedicationHold,
    Message,
    Milestone,
    Observation,
    OutcomeSummary,
    Patient,
)
from pathway.models.observation import SUMMARY_CODES, summary_column
from pathway.resources import DATA_DIR
from pathway.schemas.inputs import OutcomesQuery
from pathway.services.base import Actor, Env, audit, read_input
from pathway.timeline.vocabulary import BASELINE, Role

__all__ = ["MEASURES", "OutcomesReport", "outcomes_report", "report_data", "wilson"]

MEASURES = SUMMARY_CODES  # nprs, walk_minutes, odi: the summary holds exactly these
REPORT_ROLES = (Role.CLINICIAN, Role.ADMIN)
Z95 = 1.959963984540054  # the normal quantile of 97.5%


@dataclass(frozen=True)
class Published:
    source: str
    measure: str
    figure: str
    citation: str
    value: float
    unit: str
    compare: str


@dataclass(frozen=True)
class ReportData:
    """``pathway/data/outcomes.toml``: responder thresholds, process limits, published figures."""

    nprs_min_drop_pct: int
    nprs_min_drop_points: int
    walk_min_ratio: int
    walk_min_minutes: int
    odi_min_drop_points: int
    check_72h_answer_hours: int
    pt_start_within_days: int
    published: tuple[Published, ...]


@cache
def report_data() -> ReportData:
    with (DATA_DIR / "outcomes.toml").open("rb") as f:
        doc = tomllib.load(f)
    r, p = doc["responder"], doc["process"]
    return ReportData(
        nprs_min_drop_pct=int(r["nprs_min_drop_pct"]), nprs_min_drop_points=int(r["nprs_min_drop_points"]),
        walk_min_ratio=int(r["walk_min_ratio"]), walk_min_minutes=int(r["walk_min_minutes"]),
        odi_min_drop_points=int(r["odi_min_drop_points"]),
        check_72h_answer_hours=int(p["check_72h_answer_hours"]), pt_start_within_days=int(p["pt_start_within_days"]),
        published=tuple(Published(source=str(x["source"]), measure=str(x["measure"]), figure=str(x["figure"]),
                                  citation=str(x["citation"]), value=float(x["value"]), unit=str(x["unit"]),
                                  compare=str(x["compare"])) for x in doc["published"]),
    )


# --- the answer ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Share:
    n: int  # responders (or numerator)
    pct: float | None
    ci95: tuple[float, float] | None


@dataclass(frozen=True)
class Measure:
    n: int
    median: float | None  # nprs and walking
    median_change_pct: float | None
    mean_change: float | None  # odi
    responders: Share


@dataclass(frozen=True)
class TimePointRow:
    time_point: str
    label: str
    episodes: int
    answered: int
    measures: Mapping[str, Measure]


@dataclass(frozen=True)
class ProcessRow:
    key: str
    label: str
    numerator: int
    denominator: int
    pct: float | None
    definition: str


@dataclass(frozen=True)
class OutcomesReport:
    as_of: datetime
    query: OutcomesQuery
    time_points: list[TimePointRow]
    published: tuple[Published, ...]
    process: list[ProcessRow]
    proceduralists: list[str]  # the filters' choices
    facilities: list[str]

    @property
    def empty(self) -> bool:
        return not any(t.episodes for t in self.time_points) and not any(p.denominator for p in self.process)


def _round(value: Any, places: str) -> float | None:
    if value is None:
        return None
    return float(Decimal(str(value)).quantize(Decimal(places), rounding=ROUND_HALF_UP))


def percent(numerator: int, denominator: int) -> float | None:
    if denominator == 0:
        return None
    return _round(Decimal(100 * numerator) / Decimal(denominator), "0.1")


def wilson(successes: int, n: int) -> tuple[float, float] | None:
    """The 95% Wilson score interval of ``successes / n``, in percent, one decimal; None when n is 0."""
    if n == 0:
        return None
    p, z2 = successes / n, Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    return _round(100 * low, "0.1") or 0.0, _round(100 * high, "0.1") or 0.0


def share(successes: int, n: int) -> Share:
    return Share(n=successes, pct=percent(successes, n), ci95=wilson(successes, n))


# --- the query -----------------------------------------------------------------------------


def _scope(env: Env, q: OutcomesQuery) -> list[ColumnElement[bool]]:
    """The procedures asked for: not cancelled, procedure date (clinic time zone) in range."""
    tz = env.rules.clinic.tz
    where: list[ColumnElement[bool]] = [Episode.status != "cancelled"]
    if q.from_ is not None:
        where.append(Episode.procedure_at >= datetime.combine(q.from_, time(0), tz))
    if q.to is not None:
        where.append(Episode.procedure_at < datetime.combine(q.to + timedelta(days=1), time(0), tz))
    if q.proceduralist:
        where.append(Episode.proceduralist == q.proceduralist)
    if q.facility:
        where.append(Episode.facility == q.facility)
    return where


def _instant(value: datetime) -> Any:
    return literal(value, UTCDateTime())


def _cutoffs(env: Env) -> dict[str, datetime]:
    """Per time point (not the baseline): procedures at or before this instant have passed it."""
    return {t.code: env.now - timedelta(days=t.window_end_day + 1)
            for t in env.rules.definition.time_points if t.code != BASELINE}


def _passed(env: Env, time_point: Any) -> ColumnElement[bool]:
    cutoffs = _cutoffs(env)
    return Episode.procedure_at <= case({code: _instant(at) for code, at in cutoffs.items()}, value=time_point)


def _grouped(session: Session, env: Env, q: OutcomesQuery) -> dict[tuple[str, str, str], tuple[Any, ...]]:
    """One statement: per (measure, time point) the count, responders and mean change; the median
    value; the median change in percent. Keyed by (part, code, time point).

    The one pass over the rows pairs each current time-point value with the episode's current
    baseline and counts the pairs per (measure, time point, baseline, value): a histogram no longer
    than the distinct values (an NPRS pair has at most 11 x 11). Everything else is computed from
    it in the database: sums for n, responders and the mean change; for a median, the running count
    over the values in order, where the middle rank(s) (n + 1) // 2 and (n + 2) // 2 fall (the mean
    of the two middle values when n is even)."""
    d = report_data()
    cutoffs = _cutoffs(env)
    S = OutcomeSummary
    # The episodes in scope with a baseline, once; then per time point the ones that passed it with
    # a value there: (measure, time point, baseline, value), counted.
    scoped = (select(S.code, S.at_baseline.label("base"), Episode.procedure_at,
                     *(getattr(S, summary_column(tp)).label(summary_column(tp)) for tp in cutoffs))
              .join(Episode, Episode.id == S.episode_id)
              .where(S.code.in_(MEASURES), S.at_baseline.is_not(None), *_scope(env, q))
              .cte("scoped"))
    # Grouped per time point (seven small hash tables rather than one over every unpivoted pair).
    pairs = union_all(*(select(scoped.c.code, literal(tp).label("tp"), scoped.c.base,
                               scoped.c[summary_column(tp)].label("val"), func.count().label("c"))
                        .where(scoped.c[summary_column(tp)].is_not(None), scoped.c.procedure_at <= _instant(at))
                        .group_by(scoped.c.code, scoped.c.base, scoped.c[summary_column(tp)])
                        for tp, at in cutoffs.items())).cte("pairs")
    base, val, c = pairs.c.base, pairs.c.val, pairs.c.c
    drop = base - val
    responder = case(
        (base <= 0, 0),
        (and_(pairs.c.code == "nprs", drop >= d.nprs_min_drop_points, drop * 100 >= base * d.nprs_min_drop_pct), 1),
        (and_(pairs.c.code == "walk_minutes", or_(val >= base * d.walk_min_ratio, val >= d.walk_min_minutes)), 1),
        (and_(pairs.c.code == "odi", drop >= d.odi_min_drop_points), 1),
        else_=0,
    )
    group = (pairs.c.code, pairs.c.tp)
    stats = select(literal("n").label("part"), pairs.c.code, pairs.c.tp, func.sum(c).label("a"),
                   func.sum(c * responder).label("b"), (func.sum(c * (val - base)) * 1.0 / func.sum(c)).label("c")
                   ).group_by(*group)

    def median(column: Any, part: str, *where: Any) -> Any:
        hist = (select(pairs.c.code, pairs.c.tp, column.label("x"), func.sum(c).label("c"))
                .where(*where).group_by(pairs.c.code, pairs.c.tp, column).subquery())
        part_by = (hist.c.code, hist.c.tp)
        # Counts as integers: PostgreSQL sums a bigint as numeric, and (n + 1) // 2 must divide as integers.
        running = (select(hist.c.code, hist.c.tp, hist.c.x,
                          cast(func.sum(hist.c.c).over(partition_by=part_by, order_by=hist.c.x, rows=(None, 0)),
                               BigInteger).label("upto"),
                          cast(func.sum(hist.c.c).over(partition_by=part_by), BigInteger).label("total"))
                   .subquery())
        low = func.min(case((running.c.upto >= (running.c.total + 1) // 2, running.c.x)))
        high = func.min(case((running.c.upto >= (running.c.total + 2) // 2, running.c.x)))
        return (select(literal(part).label("part"), running.c.code, running.c.tp, ((low + high) / 2.0).label("a"),
                       literal_column("NULL").label("b"), literal_column("NULL").label("c"))
                .group_by(running.c.code, running.c.tp))

    change_pct = case((base != 0, literal(100.0) * (val - base) / base), else_=null())
    stmt = union_all(stats, median(val, "median"), median(change_pct, "pct", base != 0))
    return {(r.part, r.code, r.tp): (r.a, r.b, r.c) for r in session.execute(stmt)}


def _episode_counts(session: Session, env: Env, q: OutcomesQuery) -> tuple[dict[str, int], dict[str, int]]:
    """Per time point: procedures in range that passed it, and of those the ones answered."""
    cutoffs = _cutoffs(env)
    sums = [func.coalesce(func.sum(case((Episode.procedure_at <= _instant(at), 1), else_=0)), 0).label(f"t{i}")
            for i, at in enumerate(cutoffs.values())]
    row = session.execute(select(*sums).where(*_scope(env, q))).one()
    episodes = {code: int(row[i]) for i, code in enumerate(cutoffs)}
    # Answered: per episode in scope, whether any measure has a value at each time point.
    S = OutcomeSummary
    per_episode = (select(Episode.procedure_at,
                          *(func.max(case((getattr(S, summary_column(tp)).is_not(None), 1), else_=0)).label(tp)
                            for tp in cutoffs))
                   .select_from(S).join(Episode, Episode.id == S.episode_id)
                   .where(S.code.in_(MEASURES), *_scope(env, q))
                   .group_by(S.episode_id, Episode.procedure_at).subquery("per_episode"))
    counted = session.execute(select(*(
        func.coalesce(func.sum(case((and_(per_episode.c[tp] == 1, per_episode.c.procedure_at <= _instant(at)), 1),
                                    else_=0)), 0) for tp, at in cutoffs.items()))).one()
    answered = {tp: int(counted[i]) for i, tp in enumerate(cutoffs)}
    return episodes, {code: answered.get(code, 0) for code in cutoffs}


def _measure(grouped: dict[tuple[str, str, str], tuple[Any, ...]], code: str, tp: str) -> Measure:
    n, responders, mean_diff = grouped.get(("n", code, tp), (0, 0, None))
    n, responders = int(n or 0), int(responders or 0)
    median = grouped.get(("median", code, tp), (None,))[0]
    median_pct = grouped.get(("pct", code, tp), (None,))[0]
    return Measure(n=n, median=_round(median, "0.01") if n else None,
                   median_change_pct=_round(median_pct, "0.1") if n else None,
                   mean_change=_round(mean_diff, "0.01") if n else None, responders=share(responders, n))


# --- process figures -----------------------------------------------------------------------

PROCESS_DEFINITIONS = {
    "holds_stopped_on_time": (
        "Holds confirmed stopped on time",
        "Held medicines (approved and signed, not removed) of these procedures for which the patient's current "
        "answer, by text or recorded by staff, is that they stopped it, received before the procedure's start."),
    "postponed_for_hold": (
        "Procedures postponed for a hold",
        "Of the procedures with a signed hold, those whose procedure time was moved after the patient said they "
        "had not stopped a held medicine."),
    "check_72h_answered": (
        "72-hour checks answered within a day",
        "72-hour check texts sent for these procedures that a pain score for the 72-hour time point answered "
        "within {hours} hours of the text being sent (a value later replaced still counts as the answer)."),
    "follow_up_in_window": (
        "Follow-up visits in the 7-10 day window",
        "Of the procedures whose follow-up window (days 7-10, patient-local) has closed, those with a follow-up "
        "visit marked done (the appointment or the step) inside the window."),
    "pt_within_days": (
        "PT started within {days} days",
        "Of the procedures at least {days} days ago, those whose physical therapy start was marked done (the "
        "appointment at, or the step completed within, {days} days of the procedure's start)."),
    "texts_delivered": (
        "Texts delivered",
        "Texts about these procedures that went out (sent, delivered, undelivered, failed or unknown) and that the "
        "carrier reported delivered."),
    "opt_outs": (
        "Opt-outs",
        "Patients of these procedures who have opted out of texts (STOP, a request honoured by staff, or the "
        "carrier's refusal), out of all the patients of these procedures."),
}


def _days_between(session: Session, later: Any, earlier: Any) -> Any:
    """``later - earlier`` in days (fractional), on either database."""
    if session.get_bind().dialect.name == "postgresql":
        return extract("epoch", later - earlier) / 86400
    return func.julianday(later) - func.julianday(earlier)


def _process(session: Session, env: Env, q: OutcomesQuery) -> list[ProcessRow]:
    """The process figures for the procedures in range that have taken place (procedure time passed)."""
    d = report_data()
    now = _instant(env.now)
    done = [*_scope(env, q), Episode.procedure_at <= now]

    def count(stmt: Any) -> int:
        return int(session.scalar(stmt) or 0)

    def pair(base: Any, condition: Any, counted: Any = None) -> tuple[int, int]:
        """(numerator, denominator) in one statement over ``base`` (a select with its joins and scope)."""
        counted = counted if counted is not None else literal(1)
        row = session.execute(base.with_only_columns(
            func.count(counted), func.coalesce(func.sum(case((condition, 1), else_=0)), 0),
            maintain_column_froms=True)).one()
        return int(row[1]), int(row[0])

    figures: dict[str, tuple[int, int]] = {}
    # Each "has a matching row" is an uncorrelated IN over the ids that have one, so the database
    # builds the set once (a hash) instead of probing per row: the correlated EXISTS took about
    # 0.3 s per 10,000 episodes.
    e2 = aliased(Episode)
    # Holds confirmed stopped on time.
    h, h2 = MedicationHold, aliased(MedicationHold)
    stopped = h.id.in_(
        select(h2.id).join(e2, e2.id == h2.episode_id)
        .join(Observation, and_(Observation.episode_id == h2.episode_id,
                                or_(Observation.hold_id == h2.id, Observation.hold_id.is_(None))))
        .where(Observation.code == "stopped_medicine", Observation.value == 1, Observation.superseded_at.is_(None),
               Observation.received_at <= e2.procedure_at))
    signed = and_(h.removed_at.is_(None), h.signed_at.is_not(None), h.clearance == "approved")
    figures["holds_stopped_on_time"] = pair(
        select(h.id).join(Episode, Episode.id == h.episode_id).where(signed, *done), stopped)
    # Procedures postponed for a hold.
    has_signed = exists().where(h.episode_id == Episode.id, signed)
    not_stopped_then_moved = Episode.id.in_(
        select(Observation.episode_id).join(e2, e2.id == Observation.episode_id)
        .where(Observation.code == "stopped_medicine", Observation.value == 0, e2.moved_at.is_not(None),
               Observation.received_at < e2.moved_at))
    figures["postponed_for_hold"] = pair(select(Episode.id).where(has_signed, *done), not_stopped_then_moved)
    # 72-hour checks answered within a day.
    m2 = aliased(Message)
    answered = Message.id.in_(
        select(m2.id).join(Observation, Observation.episode_id == m2.episode_id)
        .where(m2.kind == "check_72h", m2.sent_at.is_not(None), Observation.code == "nprs",
               Observation.time_point == "72h", Observation.received_at >= m2.sent_at,
               _days_between(session, Observation.received_at, m2.sent_at) <= d.check_72h_answer_hours / 24))
    figures["check_72h_answered"] = pair(
        select(Message.id).join(Episode, Episode.id == Message.episode_id)
        .where(Message.kind == "check_72h", Message.sent_at.is_not(None), *done), answered)
    # Follow-up visits in the window.
    m, ms2 = aliased(Milestone), aliased(Milestone)
    visit_in_window = or_(
        m.id.in_(select(ms2.id).join(Appointment, Appointment.episode_id == ms2.episode_id)
                 .where(ms2.kind == "follow_up", Appointment.kind == "follow_up", Appointment.status == "done",
                        Appointment.appointment_at >= ms2.window_start, Appointment.appointment_at < ms2.window_end)),
        and_(m.status == "done", m.completed_at >= m.window_start, m.completed_at < m.window_end))
    figures["follow_up_in_window"] = pair(
        select(m.id).join(Episode, Episode.id == m.episode_id)
        .where(m.kind == "follow_up", m.ref == "", m.status != "cancelled", m.window_end <= now, *done),
        visit_in_window)
    # PT started within N days.
    days = d.pt_start_within_days
    pt_on_time = or_(
        Episode.id.in_(select(Appointment.episode_id).join(e2, e2.id == Appointment.episode_id)
                       .where(Appointment.kind == "pt_start", Appointment.status == "done",
                              _days_between(session, Appointment.appointment_at, e2.procedure_at) <= days)),
        Episode.id.in_(select(Milestone.episode_id).join(e2, e2.id == Milestone.episode_id)
                       .where(Milestone.kind == "pt_start", Milestone.status == "done",
                              _days_between(session, Milestone.completed_at, e2.procedure_at) <= days)))
    figures["pt_within_days"] = pair(
        select(Episode.id).where(*done, Episode.procedure_at <= _instant(env.now - timedelta(days=days))),
        pt_on_time)
    # Texts delivered.
    went_out = Message.status.in_(("sent", "delivered", "undelivered", "failed", "unknown"))
    figures["texts_delivered"] = pair(
        select(Message.id).join(Episode, Episode.id == Message.episode_id).where(went_out, *done),
        Message.status == "delivered")
    # Opt-outs: distinct patients.
    patients = select(Episode.patient_id).where(*done).distinct().subquery()
    total = count(select(func.count()).select_from(patients))
    opted = count(select(func.count()).select_from(patients).join(Patient, Patient.id == patients.c.patient_id)
                  .where(Patient.opted_out_at.is_not(None)))
    figures["opt_outs"] = (opted, total)

    rows = []
    for key, (label, definition) in PROCESS_DEFINITIONS.items():
        numerator, denominator = figures[key]
        words = {"hours": d.check_72h_answer_hours, "days": days}
        rows.append(ProcessRow(key=key, label=label.format(**words), numerator=numerator, denominator=denominator,
                               pct=percent(numerator, denominator), definition=definition.format(**words)))
    return rows


def _choices(session: Session, column: Any) -> list[str]:
    found = session.scalars(select(column).where(Episode.status != "cancelled", column != "").distinct()
                            .order_by(column).limit(500))
    return list(found)


def outcomes_report(session: Session, env: Env, actor: Actor, data: Mapping[str, Any] | OutcomesQuery, *,
                    export: bool = False, with_choices: bool = False) -> OutcomesReport:
    """The report for clinicians and admins (a coordinator: Forbidden). Audited with its filters."""
    actor.require(*REPORT_ROLES)
    q = read_input(OutcomesQuery, data)
    if session.get_bind().dialect.name == "postgresql":
        # At 100,000 episodes the planner's costs pass jit_above_cost and PostgreSQL compiles each
        # statement first: about 0.9 s a statement, more than the statement itself takes. For this
        # transaction only. The episodes in scope (300,000 summary rows at 100,000 episodes, read
        # once per time point) fit in 64 MB instead of spilling to a temporary file seven times.
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL work_mem = '64MB'"))
    grouped = _grouped(session, env, q)
    episodes, answered = _episode_counts(session, env, q)
    rows = [TimePointRow(time_point=t.code, label=t.label, episodes=episodes[t.code], answered=answered[t.code],
                         measures={code: _measure(grouped, code, t.code) for code in MEASURES})
            for t in env.rules.definition.time_points if t.code != BASELINE]
    report = OutcomesReport(
        as_of=env.now, query=q, time_points=rows, published=report_data().published,
        process=_process(session, env, q),
        proceduralists=_choices(session, Episode.proceduralist) if with_choices else [],
        facilities=_choices(session, Episode.facility) if with_choices else [])
    audit(session, env, actor, "outcomes.export" if export else "outcomes.view", "report", None,
          detail={"from": _day(q.from_), "to": _day(q.to), "proceduralist": q.proceduralist or None,
                  "facility": q.facility or None})
    return report


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def audit_refused(session: Session, env: Env, actor: Actor, data: Mapping[str, Any]) -> None:
    """A view of the report page whose filters were refused (a 422): audited with what was asked."""
    audit(session, env, actor, "outcomes.view", "report", None,
          detail={"refused": True, **{k: str(v)[:40] for k, v in data.items()}})


# What the page says, in plain words (the API description says the same).
DEFINITIONS: tuple[tuple[str, str], ...] = (
    ("Procedures", "Episodes not cancelled whose procedure date, in the clinic's time zone, is in the date range, "
                   "for the proceduralist and facility chosen."),
    ("Time point passed", "A time point counts once its window has closed: at least one whole day after the last day "
                          "of its window (e.g. 6 weeks: 50 days after the procedure). \"Episodes\" counts these "
                          "procedures; \"answered\" those with a current pain, walking or ODI value at that time "
                          "point."),
    ("Current values", "Only the value in force counts; a value recorded again replaces the old one, which is kept "
                       "as history and not counted."),
    ("Change", "Measured against the episode's own baseline, only for episodes with both values; n counts those "
               "episodes. Median change is the median of 100 x (value - baseline) / baseline, leaving out a baseline "
               "of 0 (that episode stays in n and cannot be a responder). With an even n the median is the mean of "
               "the two middle values."),
    ("Pain responder", "NPRS down by at least 30% and at least 2 points from baseline."),
    ("Walking responder", "Walking minutes at least doubled from baseline, or 30 minutes or more."),
    ("Disability responder", "ODI down by at least 10 points from baseline (the MiDAS ENCORE responder)."),
    ("Share and interval", "The share is 100 x responders / n, rounded to one decimal; its 95% Wilson interval is "
                           "the range of shares consistent with these patients, wide when n is small."),
)

CSV_COLUMNS = {
    "time_points": ("time_point", "label", "episodes", "answered", "measure", "n", "median", "median_change_pct",
                    "mean_change", "responders", "responders_pct", "ci95_low", "ci95_high"),
    "process": ("key", "label", "numerator", "denominator", "pct", "definition"),
}


def _text_cell(value: str) -> str:
    """A text cell a spreadsheet will not run as a formula (OWASP CSV injection), as the audit export."""
    from pathway.services.audit_export import FORMULA_STARTS

    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _number(value: float | int | None) -> str:
    return "" if value is None else str(value)


def csv_text(report: OutcomesReport, part: str) -> str:
    """One part of the report as CSV: the time points (a row per measure) or the process figures."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS[part])
    if part == "process":
        for p in report.process:
            writer.writerow([_text_cell(p.key), _text_cell(p.label), p.numerator, p.denominator, _number(p.pct),
                             _text_cell(p.definition)])
        return buffer.getvalue()
    for t in report.time_points:
        for code in MEASURES:
            m = t.measures[code]
            low, high = m.responders.ci95 if m.responders.ci95 is not None else (None, None)
            writer.writerow([_text_cell(t.time_point), _text_cell(t.label), t.episodes, t.answered, code, m.n,
                             _number(m.median if code != "odi" else None),
                             _number(m.median_change_pct if code != "odi" else None),
                             _number(m.mean_change if code == "odi" else None), m.responders.n,
                             _number(m.responders.pct), _number(low), _number(high)])
    return buffer.getvalue()
