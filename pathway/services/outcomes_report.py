"""The outcomes report (issue 12): pain, walking and disability at each time point against each
episode's own baseline, the share of responders with its 95% interval, the figures clinics quote,
and process figures for the same procedures.

Everything is counted in the database, from one row per episode (``report_episodes``: the filters,
the current value of each measure at each time point, and the facts behind the process figures,
kept by their writers; ``pathway/models/report.py``), in four statements: one pass of plain sums
(``_counted``), the medians with their intervals from a histogram of (baseline, value) pairs
(``_medians``), the texts, and the opt-outs. Python only adds subtotals, rounds, and computes the
Wilson interval and the ranks of a median's interval from counts. No row of an episode is loaded.

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
    null,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from pathway.db import UTCDateTime
from pathway.models import Episode, Message, Observation, Patient, ReportEpisode
from pathway.models.report import MEDIAN_CODES, REPORT_CODES, SCALE, value_column, write_pending
from pathway.resources import DATA_DIR
from pathway.schemas.inputs import OutcomesQuery
from pathway.services.base import Actor, Env, audit, read_input
from pathway.timeline.vocabulary import BASELINE, Role

__all__ = ["MEASURES", "OutcomesReport", "outcomes_report", "report_data", "wilson"]

MEASURES = REPORT_CODES  # nprs, walk_minutes, odi: the report rows hold exactly these
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
    median_ci95: tuple[float, float] | None  # distribution-free 95% interval of the median
    median_change_pct: float | None
    median_change_pct_ci95: tuple[float, float] | None
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

R = ReportEpisode


def _scope(env: Env, q: OutcomesQuery, table: Any = R) -> list[ColumnElement[bool]]:
    """The procedures asked for: not cancelled, procedure date (clinic time zone) in range. ``table``
    is the report rows or the episodes (both have these columns)."""
    tz = env.rules.clinic.tz
    where: list[ColumnElement[bool]] = [table.status != "cancelled"]
    if q.from_ is not None:
        where.append(table.procedure_at >= datetime.combine(q.from_, time(0), tz))
    if q.to is not None:
        where.append(table.procedure_at < datetime.combine(q.to + timedelta(days=1), time(0), tz))
    if q.proceduralist:
        where.append(table.proceduralist == q.proceduralist)
    if q.facility:
        where.append(table.facility == q.facility)
    return where


def _instant(value: datetime) -> Any:
    return literal(value, UTCDateTime())


def _cutoffs(env: Env) -> dict[str, datetime]:
    """Per time point (not the baseline): procedures at or before this instant have passed it."""
    return {t.code: env.now - timedelta(days=t.window_end_day + 1)
            for t in env.rules.definition.time_points if t.code != BASELINE}


def _value(code: str, tp: str) -> Any:
    return getattr(R, value_column(code, tp))


def _pair(code: str, tp: str, at: datetime) -> ColumnElement[bool]:
    """The episode passed the time point and has both its baseline and a value there."""
    return and_(R.procedure_at <= _instant(at), _value(code, BASELINE).is_not(None), _value(code, tp).is_not(None))


def _responder(code: str, base: Any, val: Any) -> ColumnElement[bool]:
    """The definitions of ``outcomes.toml``, on values in hundredths (ratios are unchanged)."""
    d = report_data()
    drop = base - val
    if code == "nprs":
        rule = and_(drop >= d.nprs_min_drop_points * SCALE, drop * 100 >= base * d.nprs_min_drop_pct)
    elif code == "walk_minutes":
        rule = or_(val >= base * d.walk_min_ratio, val >= d.walk_min_minutes * SCALE)
    else:
        rule = drop >= d.odi_min_drop_points * SCALE
    return and_(base > 0, rule)


def _count(condition: Any) -> Any:
    """``COUNT(*) FILTER (WHERE condition)``: cheaper than a sum over a CASE (SQLite 3.30+ too)."""
    return func.count().filter(condition)


def _sum(condition: Any, value: Any) -> Any:
    return func.coalesce(func.sum(value).filter(condition), 0)


@dataclass(frozen=True)
class _Counts:
    """What one pass over the report rows in scope counts (see ``_counted``)."""

    episodes: dict[str, int]  # per time point: procedures that passed it
    answered: dict[str, int]  # ... and of those, with a pain, walking or ODI value there
    n: dict[tuple[str, str], int]  # per (measure, time point): episodes with the value and a baseline
    zero_base: dict[tuple[str, str], int]  # pain and walking: of those, with a baseline of 0
    responders: dict[tuple[str, str], int]
    change: dict[tuple[str, str], int]  # the ODI: the sum of (value - baseline), hundredths
    process: dict[str, tuple[int, int]]  # the process figures read from the rows: (numerator, denominator)


def _counted(session: Session, env: Env, q: OutcomesQuery) -> _Counts:
    """One statement, one pass over the report rows in scope: per time point the episodes that
    passed it and the answered ones; per measure and time point n, the baselines of 0, the
    responders and the summed change; and the process figures kept on the rows.

    Every "has passed" test compares the procedure time with an instant (a time point's cutoff, now,
    now less the PT days), so the rows are grouped by how many of those instants, latest first, they
    lie at or before (``k``, at most a dozen groups), and each group sums its columns once; the
    total for an instant adds up the groups at or beyond its place. Python only adds those subtotals."""
    d = report_data()
    cutoffs = _cutoffs(env)
    days = d.pt_start_within_days
    instants: dict[tuple[str, ...], datetime] = {**{("tp", tp): at for tp, at in cutoffs.items()}, ("done",): env.now,
                ("pt_due",): env.now - timedelta(days=days)}
    order = sorted(instants, key=lambda key: instants[key], reverse=True)
    place = {key: i + 1 for i, key in enumerate(order)}  # "at or before this instant" <=> k >= place
    k = case(*((R.procedure_at <= _instant(instants[key]), place[key]) for key in reversed(order)), else_=0)
    columns: list[Any] = []
    keys: list[tuple[Any, ...]] = []

    def add(key: tuple[Any, ...], expr: Any) -> None:
        keys.append(key)
        columns.append(expr)

    add(("rows",), func.count())
    for tp in cutoffs:
        add(("answered", tp), func.count(func.coalesce(*(_value(c, tp) for c in MEASURES))))
        for code in MEASURES:
            base, val = _value(code, BASELINE), _value(code, tp)
            add(("n", code, tp), func.count(base + val))  # NULL unless both are there
            add(("responders", code, tp), _count(and_(val.is_not(None), _responder(code, base, val))))
            if code in MEDIAN_CODES:  # the median change leaves out a baseline of 0
                add(("zero_base", code, tp), _count(and_(base == 0, val.is_not(None))))
            else:  # the ODI is reported by its mean change
                add(("change", code, tp), func.coalesce(func.sum(val - base), 0))
    follow_up = and_(R.follow_up_window_end.is_not(None), R.follow_up_window_end <= _instant(env.now))
    pt_on_time = and_(R.pt_started_at.is_not(None), _days_between(session, R.pt_started_at, R.procedure_at) <= days)
    process = {  # key: (numerator, denominator, counted from the instant)
        "holds_stopped_on_time": (func.coalesce(func.sum(R.holds_stopped), 0),
                                  func.coalesce(func.sum(R.holds_signed), 0), ("done",)),
        "postponed_for_hold": (_count(and_(R.holds_signed > 0, R.postponed_for_hold == 1)),
                               _count(R.holds_signed > 0), ("done",)),
        "follow_up_in_window": (_count(and_(follow_up, R.follow_up_in_window == 1)), _count(follow_up), ("done",)),
        "pt_within_days": (_count(pt_on_time), func.count(), ("pt_due",)),
    }
    for key, (numerator, denominator, _) in process.items():
        add(("num", key), numerator)
        add(("den", key), denominator)
    groups = session.execute(select(k.label("k"), *columns).where(*_scope(env, q)).group_by(k)).all()

    def total(key: tuple[Any, ...], instant: tuple[str, ...]) -> int:
        i = keys.index(key) + 1
        return sum(int(g[i] or 0) for g in groups if g[0] >= place[instant])

    pairs = [(code, tp) for tp in cutoffs for code in MEASURES]
    return _Counts(
        episodes={tp: total(("rows",), ("tp", tp)) for tp in cutoffs},
        answered={tp: total(("answered", tp), ("tp", tp)) for tp in cutoffs},
        n={(c, tp): total(("n", c, tp), ("tp", tp)) for c, tp in pairs},
        zero_base={(c, tp): total(("zero_base", c, tp), ("tp", tp)) for c, tp in pairs if c in MEDIAN_CODES},
        responders={(c, tp): total(("responders", c, tp), ("tp", tp)) for c, tp in pairs},
        change={(c, tp): total(("change", c, tp), ("tp", tp)) for c, tp in pairs if c not in MEDIAN_CODES},
        process={key: (total(("num", key), instant), total(("den", key), instant))
                 for key, (_, _, instant) in process.items()})


def median_ci_ranks(n: int) -> tuple[int, int] | None:
    """The ranks (1-based, in ascending order) of the order statistics that bound a distribution-free
    95% confidence interval for a median of ``n`` values: the largest ``j`` with P(B <= j - 1) <=
    0.025 for B ~ Binomial(n, 1/2), and ``n + 1 - j`` (Conover, Practical Nonparametric Statistics,
    3rd ed., 1999, section 3.2). In whole numbers up to 1,000 values, in floating point above (the
    same ranks: tested against the whole numbers); None below 6 values, where even the smallest
    and largest value cover less than 95%."""
    return _median_ci_ranks(n)


@cache
def _median_ci_ranks(n: int) -> tuple[int, int] | None:
    if n < 6:
        return None
    j = _exact_rank(n) if n <= 1000 else _large_rank(n)
    return j, n + 1 - j


def _exact_rank(n: int) -> int:
    """In whole numbers: sum C(n, i) for i < j + 1 until it passes 2.5% of 2^n."""
    total, below, j = 2 ** n, 0, 0
    while True:
        below += math.comb(n, j)
        if below * 40 > total:
            return j
        j += 1


def _lower_tail(n: int, k: int) -> float:
    """P(B <= k) for B ~ Binomial(n, 1/2), k below n / 2: the term at k from log-gamma, then
    downwards by the ratio of neighbours until the terms no longer count."""
    term = math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) - n * math.log(2))
    total, i = term, k
    while i > 0 and term > total * 1e-17:
        term *= i / (n - i + 1)
        i -= 1
        total += term
    return total


def _large_rank(n: int) -> int:
    """The same rank for a large n: start from the normal approximation with continuity correction
    and step to where P(B <= j - 1) <= 2.5% < P(B <= j), in floating point (a few thousand terms)."""
    j = math.floor((n + 1 - Z95 * math.sqrt(n)) / 2)
    while _lower_tail(n, j - 1) > 0.025:
        j -= 1
    while _lower_tail(n, j) <= 0.025:
        j += 1
    return j


def _medians(session: Session, env: Env, q: OutcomesQuery, counts: _Counts
             ) -> dict[tuple[str, str, str], tuple[Any, Any, Any]]:
    """One statement: per (part, measure, time point) the median and the values at the ranks of its
    95% interval; part ``median`` over the values, ``pct`` over 100 x (value - baseline) / baseline.

    Per time point and measure the database counts the (baseline, value) pairs of the rows that
    passed it: a histogram no longer than the distinct pairs. Each distribution is grouped from it
    with a running count over its values in order; the median is where the middle rank(s) (n + 1)
    // 2 and (n + 2) // 2 fall (the mean of the two middle values when n is even), the interval's
    ends where the ranks of ``median_ci_ranks`` fall (given per group from the counts)."""
    cutoffs = _cutoffs(env)
    base_x, val_x = _value, _value
    hist = union_all(*(
        select(literal(code).label("code"), literal(tp).label("tp"), base_x(code, BASELINE).label("base"),
               val_x(code, tp).label("val"), func.count().label("c"))
        .where(*_scope(env, q), _pair(code, tp, at))
        .group_by(base_x(code, BASELINE), val_x(code, tp))
        for tp, at in cutoffs.items() for code in MEDIAN_CODES)).cte("hist")
    base, val, c = hist.c.base, hist.c.val, hist.c.c
    group = (hist.c.code, hist.c.tp)
    ranks: list[Any] = []
    for tp in cutoffs:
        for code in MEDIAN_CODES:
            n = counts.n[code, tp]
            for part, m in (("median", n), ("pct", n - counts.zero_base[code, tp])):
                bounds = median_ci_ranks(m)
                if bounds is not None:
                    ranks.append(select(literal(part).label("part"), literal(code).label("code"),
                                        literal(tp).label("tp"), literal(bounds[0]).label("lo"),
                                        literal(bounds[1]).label("hi")))
    rank = union_all(*ranks).subquery("ranks") if ranks else None

    def median(column: Any, part: str, *where: Any) -> Any:
        x = (select(*group, column.label("x"), func.sum(c).label("c")).where(*where)
             .group_by(*group, column).subquery())
        part_by = (x.c.code, x.c.tp)
        # Counts as integers: PostgreSQL sums a bigint as numeric, and (n + 1) // 2 must divide as integers.
        running = (select(x.c.code, x.c.tp, x.c.x,
                          cast(func.sum(x.c.c).over(partition_by=part_by, order_by=x.c.x, rows=(None, 0)),
                               BigInteger).label("upto"),
                          cast(func.sum(x.c.c).over(partition_by=part_by), BigInteger).label("total"))
                   .subquery())
        low = func.min(case((running.c.upto >= (running.c.total + 1) // 2, running.c.x)))
        high = func.min(case((running.c.upto >= (running.c.total + 2) // 2, running.c.x)))
        stmt = select(literal(part).label("part"), running.c.code, running.c.tp, ((low + high) / 2.0).label("m"))
        if rank is None:
            return stmt.add_columns(null().label("lo"), null().label("hi")).group_by(running.c.code, running.c.tp)
        joined = and_(rank.c.part == part, rank.c.code == running.c.code, rank.c.tp == running.c.tp)

        def at_rank(r: Any) -> Any:
            # The ranks came from the counts of an earlier statement: a value committed between the
            # two may leave one past the histogram's total; the last value then stands for it.
            r = case((r > running.c.total, running.c.total), else_=r)
            return func.min(case((running.c.upto >= r, running.c.x)))

        return (stmt.add_columns(at_rank(rank.c.lo).label("lo"), at_rank(rank.c.hi).label("hi"))
                .select_from(running).outerjoin(rank, joined).group_by(running.c.code, running.c.tp))

    change_pct = case((base != 0, literal(100.0) * (val - base) / base), else_=null())
    stmt = union_all(median(val, "median"), median(change_pct, "pct", base != 0))
    return {(r.part, r.code, r.tp): (r.m, r.lo, r.hi) for r in session.execute(stmt)}


def _interval(low: Any, high: Any, places: str, scale: int = 1) -> tuple[float, float] | None:
    """An interval's ends from the database, rounded (hundredths divided by ``scale``)."""
    if low is None or high is None:
        return None
    ends = (_round(Decimal(str(x)) / scale, places) for x in (low, high))
    lo, hi = (float(x or 0) for x in ends)
    return lo, hi


def _measure(counts: _Counts, medians: dict[tuple[str, str, str], tuple[Any, Any, Any]], code: str,
             tp: str) -> Measure:
    n, responders = counts.n[code, tp], counts.responders[code, tp]
    if not n:
        return Measure(n=0, median=None, median_ci95=None, median_change_pct=None, median_change_pct_ci95=None,
                       mean_change=None, responders=share(0, 0))
    median, m_low, m_high = medians.get(("median", code, tp), (None, None, None))
    pct, p_low, p_high = medians.get(("pct", code, tp), (None, None, None))
    change = counts.change.get((code, tp))
    return Measure(
        n=n, median=_round(Decimal(str(median)) / SCALE, "0.01") if median is not None else None,
        median_ci95=_interval(m_low, m_high, "0.01", SCALE), median_change_pct=_round(pct, "0.1"),
        median_change_pct_ci95=_interval(p_low, p_high, "0.1"),
        mean_change=_round(Decimal(change) / SCALE / n, "0.01") if change is not None else None,
        responders=share(responders, n))


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


def _process(session: Session, env: Env, q: OutcomesQuery, counts: _Counts) -> list[ProcessRow]:
    """The process figures for the procedures in range that have taken place (procedure time passed):
    four from the report rows' facts (counted with the outcomes), the texts from the messages of
    those rows, and the opt-outs from their patients."""
    d = report_data()
    figures = dict(counts.process)
    done = [*_scope(env, q), R.procedure_at <= _instant(env.now)]
    # 72-hour checks answered within a day, and texts delivered: one pass over the texts in scope.
    # An answer is a pain score for the 72-hour time point (a later replaced one counts too)
    # received at or after the text was sent and within the hours after. The row keeps when the
    # first such score came; only where that was before the text (a score entered early) are the
    # episode's scores looked up.
    check = and_(Message.kind == "check_72h", Message.sent_at.is_not(None))
    hours = d.check_72h_answer_hours / 24

    def within(at: Any) -> Any:
        return and_(at >= Message.sent_at, _days_between(session, at, Message.sent_at) <= hours)

    answered = case(
        (R.nprs_72h_first_at.is_(None), False),
        (R.nprs_72h_first_at >= Message.sent_at, within(R.nprs_72h_first_at)),
        else_=exists().where(Observation.code == "nprs", Observation.time_point == "72h",
                             Observation.episode_id == Message.episode_id, within(Observation.received_at)))
    went_out = Message.status.in_(("sent", "delivered", "undelivered", "failed", "unknown"))
    row = session.execute(
        select(_count(check), _count(and_(check, answered)), _count(went_out),
               _count(and_(went_out, Message.status == "delivered")))
        # "+ 0": every text is read once and its row found by key. With statistics, SQLite would
        # otherwise walk the rows first and fetch each one's texts through the index, 5x slower.
        .select_from(Message).join(R, R.episode_id == Message.episode_id + 0)
        .where(*done, or_(check, went_out))).one()
    figures["check_72h_answered"] = (int(row[1]), int(row[0]))
    figures["texts_delivered"] = (int(row[3]), int(row[2]))
    # Opt-outs: distinct patients.
    patients = (select(Episode.patient_id).where(*_scope(env, q, Episode), Episode.procedure_at <= _instant(env.now))
                .distinct().subquery())
    opted = session.execute(select(func.count(), _count(Patient.opted_out_at.is_not(None)))
                            .select_from(patients).join(Patient, Patient.id == patients.c.patient_id)).one()
    figures["opt_outs"] = (int(opted[1]), int(opted[0]))

    rows = []
    days = d.pt_start_within_days
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
    session.flush()
    write_pending(session)  # what this transaction wrote, as its commit would
    if session.get_bind().dialect.name == "postgresql":
        # At 100,000 episodes the planner's costs pass jit_above_cost and PostgreSQL compiles each
        # statement first: about 0.9 s a statement, more than the statement itself takes. For this
        # transaction only. And the groupings' hash tables and the texts' join stay in memory.
        # psycopg prepares a statement run five times, and after five more PostgreSQL may plan it
        # once for any parameters: without the cutoffs' values it guesses a third of the rows pass
        # and drops the parallel plans (0.5 s became 1 s from the eleventh request on).
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL work_mem = '64MB'"))
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    counts = _counted(session, env, q)
    medians = _medians(session, env, q, counts)
    rows = [TimePointRow(time_point=t.code, label=t.label, episodes=counts.episodes[t.code],
                         answered=counts.answered[t.code],
                         measures={code: _measure(counts, medians, code, t.code) for code in MEASURES})
            for t in env.rules.definition.time_points if t.code != BASELINE]
    report = OutcomesReport(
        as_of=env.now, query=q, time_points=rows, published=report_data().published,
        process=_process(session, env, q, counts),
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
    ("Interval of a median", "The 95% interval of a median (a value or a change) is the range of medians consistent "
                             "with these patients, wide when n is small. It runs between two of the patients' own "
                             "values in order, the j-th and the (n + 1 - j)-th, with j from the binomial "
                             "distribution, so it assumes nothing about how the values are spread. With fewer than "
                             "6 values there is none."),
)

CSV_COLUMNS = {
    "time_points": ("time_point", "label", "episodes", "answered", "measure", "n", "median", "median_change_pct",
                    "mean_change", "responders", "responders_pct", "ci95_low", "ci95_high", "median_ci95_low",
                    "median_ci95_high", "median_change_pct_ci95_low", "median_change_pct_ci95_high"),
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
            low, high = m.responders.ci95 or (None, None)
            median_low, median_high = m.median_ci95 or (None, None)
            change_low, change_high = m.median_change_pct_ci95 or (None, None)
            writer.writerow([_text_cell(t.time_point), _text_cell(t.label), t.episodes, t.answered, code, m.n,
                             _number(m.median), _number(m.median_change_pct), _number(m.mean_change),
                             m.responders.n, _number(m.responders.pct), _number(low), _number(high),
                             _number(median_low), _number(median_high), _number(change_low), _number(change_high)])
    return buffer.getvalue()
