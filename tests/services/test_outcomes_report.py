"""The outcomes report (issue 12): every definition checked against cohorts computed by hand.

The clock is T0 (2027-02-01 15:00 UTC). Procedures on 2026-12-01 are 62 days old: the 72h, visit
and 6w windows have closed (6w closes after day 49, counted as 50 whole days), 3m has not (106).
Values are seeded as observation rows (current, or replaced: ``superseded_at`` set).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from pathway.models import Appointment, Episode, MedicationHold, Message, Milestone, Observation
from pathway.services.base import Forbidden, ValidationError
from pathway.services.outcomes_report import _exact_rank, median_ci_ranks, outcomes_report, wilson
from tests.conftest import T0

OLD = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # 62 days before T0
RECENT = datetime(2027, 1, 10, 4, 0, tzinfo=UTC)  # 22 days before T0; 2027-01-09 23:00 in New York


@pytest.fixture
def episode(session: Any, make_patient: Any) -> Any:
    def build(procedure_at: datetime = OLD, *, status: str = "completed", proceduralist: str = "Dr. Lee",
              facility: str = "Riverside Surgery Center", patient: Any = None, moved_at: datetime | None = None) -> Any:
        e = Episode(patient_id=(patient or make_patient()).id, procedure_at=procedure_at, status=status,
                    proceduralist=proceduralist, facility=facility, created_at=procedure_at - timedelta(days=40),
                    moved_at=moved_at)
        session.add(e)
        session.flush()
        return e

    return build


@pytest.fixture
def observe(session: Any) -> Any:
    def add(e: Any, code: str, time_point: str | None, value: Any, *, replaced: bool = False,
            at: datetime | None = None, hold_id: int | None = None) -> Observation:
        when = at or e.procedure_at + timedelta(days=1)
        o = Observation(episode_id=e.id, code=code, value=Decimal(str(value)), unit="x", time_point=time_point,
                        received_at=when, source="staff", created_at=when, hold_id=hold_id,
                        superseded_at=when + timedelta(hours=1) if replaced else None)
        session.add(o)
        session.flush()
        return o

    return add


def _report(session: Any, env: Any, staff: Any, **query: Any) -> Any:
    return outcomes_report(session, env, staff["clinician"], query)


def _tp(report: Any, code: str) -> Any:
    return next(t for t in report.time_points if t.time_point == code)


@pytest.fixture
def cohort(episode: Any, observe: Any) -> dict[str, Any]:
    """Seven procedures 62 days ago, one 22 days ago, one cancelled: see each test for the figures."""
    e = {name: episode() for name in ("e1", "e2", "e3", "e4", "e5", "e6", "e7")}
    e["e9"] = episode(RECENT)
    e["cancelled"] = episode(status="cancelled")
    pain = {"e1": (8, 4), "e2": (6, 5), "e3": (0, 2), "e4": (None, 3), "e5": (7, 2), "e6": (3, 1), "e7": (10, 7),
            "e9": (9, 1), "cancelled": (9, 1)}
    for name, (base, six_weeks) in pain.items():
        if base is not None:
            observe(e[name], "nprs", "baseline", base)
        observe(e[name], "nprs", "6w", six_weeks)
    observe(e["e5"], "nprs", "6w", 7, replaced=True)  # the replaced value is history, not counted
    observe(e["e5"], "nprs", "baseline", 1, replaced=True)
    observe(e["e1"], "nprs", "72h", 8)  # the only 72h value: a single episode
    walking = {"e1": (10, 20), "e2": (20, 35), "e3": (0, 40), "e5": (15, 25)}
    for name, (base, six_weeks) in walking.items():
        observe(e[name], "walk_minutes", "baseline", base)
        observe(e[name], "walk_minutes", "6w", six_weeks)
    for name, (base, six_weeks) in {"e1": (40, 28), "e2": (30, 25), "e6": (50, 40)}.items():
        observe(e[name], "odi", "baseline", base)
        observe(e[name], "odi", "6w", six_weeks)
    return e


def test_pain_at_six_weeks_against_each_episodes_own_baseline(session: Any, env: Any, staff: Any,
                                                              cohort: Any) -> None:
    six = _tp(_report(session, env, staff), "6w")
    # Passed: e1-e7 (e9 is 22 days old; the cancelled one is left out). Answered: all seven have a 6w value.
    assert (six.episodes, six.answered) == (7, 7)
    nprs = six.measures["nprs"]
    # Both values: e1 8->4, e2 6->5, e3 0->2, e5 7->2 (current rows only), e6 3->1, e7 10->7; e4 has no baseline.
    assert nprs.n == 6
    # Values 1, 2, 2, 4, 5, 7: an even count, so the mean of the two middle values (2 + 4) / 2.
    assert nprs.median == 3.0
    # Changes without e3 (baseline 0): -50, -16.7, -71.4, -66.7, -30: the middle one of five.
    assert nprs.median_change_pct == -50.0
    # Responders: e1 (-4, 50%), e5 (-5, 71%), e6 (-2 points exactly, 67%), e7 (-3, 30% exactly).
    # Not: e2 (-1 point), e3 (baseline 0 is never a responder).
    assert (nprs.responders.n, nprs.responders.pct) == (4, 66.7)
    assert nprs.responders.ci95 == (30.0, 90.3)  # Wilson 4/6
    # Six values: the 95% interval of the median runs from the 1st to the 6th ordered value; five
    # changes are too few for one.
    assert (nprs.median_ci95, nprs.median_change_pct_ci95) == ((1.0, 7.0), None)


def test_intervals_of_the_medians_from_the_ordered_values(session: Any, env: Any, staff: Any, episode: Any,
                                                          observe: Any) -> None:
    # Ten episodes, baseline 10, values 0..9 (changes -100% .. -10%); two cancelled ones do not count.
    for value in range(10):
        e = episode(proceduralist="Dr. Ten")
        observe(e, "nprs", "baseline", 10)
        observe(e, "nprs", "6w", value)
    for _ in range(2):
        gone = episode(proceduralist="Dr. Ten", status="cancelled")
        observe(gone, "nprs", "baseline", 10)
        observe(gone, "nprs", "6w", 10)
    nprs = _tp(_report(session, env, staff, proceduralist="Dr. Ten"), "6w").measures["nprs"]
    # n = 10: ranks 2 and 9 (P(B <= 1) = 11/1024 <= 2.5% < P(B <= 2) = 56/1024).
    assert (nprs.n, nprs.median, nprs.median_ci95) == (10, 4.5, (1.0, 8.0))
    assert (nprs.median_change_pct, nprs.median_change_pct_ci95) == (-55.0, (-90.0, -20.0))


def test_the_ranks_of_a_medians_interval() -> None:
    # Conover (1999), table A3 / the binomial with p = 1/2: none below 6 values.
    assert [median_ci_ranks(n) for n in (0, 1, 5)] == [None, None, None]
    assert median_ci_ranks(6) == (1, 6)  # P(B <= 0) = 1/64
    assert median_ci_ranks(10) == (2, 9)
    assert median_ci_ranks(20) == (6, 15)  # P(B <= 5) = 0.0207, P(B <= 6) = 0.0577
    assert median_ci_ranks(100) == (40, 61)  # P(B <= 39) = 0.0176, P(B <= 40) = 0.0284
    assert median_ci_ranks(1000) == (469, 532)
    # Above 1,000 in floating point: the same ranks as in whole numbers.
    for n in (1001, 1002, 1037, 1050, 1099, 2000, 4999):
        j = _exact_rank(n)
        assert median_ci_ranks(n) == (j, n + 1 - j), n
    assert median_ci_ranks(1001) == (470, 532)
    assert 49_684 < median_ci_ranks(100_000)[0] < 49_692  # 50,000 - 1.96 x 158.1 = 49,690


def test_walking_and_odi_at_six_weeks(session: Any, env: Any, staff: Any, cohort: Any) -> None:
    six = _tp(_report(session, env, staff), "6w")
    walk = six.measures["walk_minutes"]
    # e1 10->20 (doubled), e2 20->35 (30 minutes or more), e3 0->40 (baseline 0: never), e5 15->25 (neither).
    assert (walk.n, walk.median, walk.responders.n, walk.responders.pct) == (4, 30.0, 2, 50.0)
    assert walk.median_change_pct == 75.0  # +100, +75, +66.7 (e3 left out)
    assert walk.responders.ci95 == (15.0, 85.0)  # Wilson 2/4
    odi = six.measures["odi"]
    # e1 40->28 (-12), e2 30->25 (-5), e6 50->40 (-10 exactly: a responder). Mean (-12 - 5 - 10) / 3 = -9.
    assert (odi.n, odi.mean_change, odi.responders.n, odi.responders.pct) == (3, -9.0, 2, 66.7)
    assert odi.responders.ci95 == (20.8, 93.9)  # Wilson 2/3


def test_a_single_episode_and_a_time_point_not_yet_passed(session: Any, env: Any, staff: Any, cohort: Any) -> None:
    report = _report(session, env, staff)
    at72 = _tp(report, "72h")
    # 72h has passed for all eight (e9's window closed after day 5); only e1 answered it.
    assert (at72.episodes, at72.answered) == (8, 1)
    nprs = at72.measures["nprs"]
    assert (nprs.n, nprs.median, nprs.median_change_pct) == (1, 8.0, 0.0)
    assert (nprs.responders.n, nprs.responders.pct, nprs.responders.ci95) == (0, 0.0, (0.0, 79.3))  # Wilson 0/1
    three = _tp(report, "3m")
    assert (three.episodes, three.answered) == (0, 0)
    for m in three.measures.values():
        assert (m.n, m.median, m.median_change_pct, m.mean_change) == (0, None, None, None)
        assert (m.responders.n, m.responders.pct, m.responders.ci95) == (0, None, None)


def test_a_cohort_of_only_zero_baselines_has_no_median_change(session: Any, env: Any, staff: Any, episode: Any,
                                                              observe: Any) -> None:
    e = episode(proceduralist="Dr. Zero")
    observe(e, "nprs", "baseline", 0)
    observe(e, "nprs", "visit", 0)
    nprs = _tp(_report(session, env, staff, proceduralist="Dr. Zero"), "visit").measures["nprs"]
    assert (nprs.n, nprs.median, nprs.median_change_pct, nprs.responders.n, nprs.responders.pct) == (1, 0.0, None, 0,
                                                                                                      0.0)


def test_an_empty_cohort(session: Any, env: Any, staff: Any, cohort: Any) -> None:
    report = _report(session, env, staff, proceduralist="Dr. Nobody")
    assert report.empty
    for t in report.time_points:
        assert (t.episodes, t.answered) == (0, 0)
        assert all(m.n == 0 and m.median is None and m.responders.ci95 is None for m in t.measures.values())
    assert all((p.numerator, p.denominator, p.pct) == (0, 0, None) for p in report.process)


def test_filters_by_procedure_date_in_the_clinic_zone_proceduralist_and_facility(
        session: Any, env: Any, staff: Any, cohort: Any, episode: Any, observe: Any) -> None:
    # e9's procedure is 2027-01-10 04:00 UTC, the 9th in New York: a range from the 10th leaves it out.
    assert _tp(_report(session, env, staff, **{"from": "2027-01-10"}), "72h").episodes == 0
    assert _tp(_report(session, env, staff, **{"from": "2027-01-09", "to": "2027-01-09"}), "72h").episodes == 1
    assert _tp(_report(session, env, staff, to="2026-12-01"), "72h").episodes == 7
    other = episode(proceduralist="Dr. Kim", facility="North Clinic")
    observe(other, "nprs", "baseline", 6)
    observe(other, "nprs", "6w", 2)
    six = _tp(_report(session, env, staff, proceduralist="Dr. Kim"), "6w")
    assert (six.episodes, six.measures["nprs"].n, six.measures["nprs"].responders.n) == (1, 1, 1)
    assert _tp(_report(session, env, staff, facility="North Clinic"), "6w").episodes == 1
    assert _tp(_report(session, env, staff, facility="Riverside Surgery Center"), "6w").episodes == 7


def test_bad_filters_name_the_field(session: Any, env: Any, staff: Any) -> None:
    with pytest.raises(ValidationError) as bad:
        _report(session, env, staff, **{"from": "2027-02-30"})
    assert list(bad.value.errors) == ["from"]
    with pytest.raises(ValidationError) as bad:
        _report(session, env, staff, **{"from": "2027-02-02", "to": "2027-02-01"})
    assert list(bad.value.errors) == ["to"]


def test_coordinators_may_not_see_it_and_a_view_is_audited(session: Any, env: Any, staff: Any) -> None:
    with pytest.raises(Forbidden):
        outcomes_report(session, env, staff["coordinator"], {})
    outcomes_report(session, env, staff["admin"], {"proceduralist": "Dr. Lee"})
    from sqlalchemy import select

    from pathway.models import AuditEvent
    row = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    assert row.action == "outcomes.view" and row.patient_id is None
    assert row.detail == {"from": None, "to": None, "proceduralist": "Dr. Lee", "facility": None}


def test_wilson_interval_against_published_values() -> None:
    # Wilson (1927) 95% intervals, as tabled by Newcombe (1998), in percent.
    assert wilson(81, 263) == (25.5, 36.6)  # 0.2553-0.3662
    assert wilson(1, 29) == (0.6, 17.2)  # 0.0061-0.1718
    assert wilson(0, 20) == (0.0, 16.1)  # 0-0.1611
    assert wilson(0, 0) is None


def _hold(session: Any, e: Any, *, signed: bool = True) -> MedicationHold:
    h = MedicationHold(episode_id=e.id, drug_name="clopidogrel", interval_source="test", clearance="approved",
                       signed_at=e.procedure_at - timedelta(days=10) if signed else None)
    session.add(h)
    session.flush()
    return h


def _text(session: Any, e: Any, kind: str, status: str, sent_at: datetime | None) -> Message:
    m = Message(patient_id=e.patient_id, episode_id=e.id, kind=kind, language="en", body="b",
                plan_key=f"{kind}:{e.id}:{status}:{sent_at}", send_at=sent_at or T0, status=status, sent_at=sent_at,
                created_at=e.created_at, updated_at=e.created_at)
    session.add(m)
    session.flush()
    return m


def test_process_figures(session: Any, env: Any, staff: Any, episode: Any, observe: Any) -> None:
    tag = {"proceduralist": "Dr. Process"}
    a = episode(**tag)
    b = episode(**tag, moved_at=OLD - timedelta(days=3))
    c = episode(**tag)
    episode(RECENT - timedelta(days=30), **tag)  # 52 days ago: counted where no window applies
    episode(T0 + timedelta(days=3), **tag, status="scheduled")  # not yet happened: left out of every figure
    # Holds: a's stopped (yes, before the procedure), b's said no then the procedure moved, c's said yes too late;
    # an unsigned hold is not counted.
    ha, hb, hc = _hold(session, a), _hold(session, b), _hold(session, c)
    _hold(session, c, signed=False)
    observe(a, "stopped_medicine", None, 1, at=a.procedure_at - timedelta(days=2), hold_id=ha.id)
    observe(b, "stopped_medicine", None, 0, at=b.procedure_at - timedelta(days=6), hold_id=hb.id)
    observe(c, "stopped_medicine", None, 1, at=c.procedure_at + timedelta(hours=1), hold_id=hc.id)
    # 72h texts: a's answered after 20 hours, b's after 30 hours, c's text never went.
    sent = a.procedure_at + timedelta(hours=72)
    _text(session, a, "check_72h", "delivered", sent)
    _text(session, b, "check_72h", "undelivered", sent)
    _text(session, c, "check_72h", "cancelled", None)
    observe(a, "nprs", "72h", 3, at=sent + timedelta(hours=20), replaced=True)
    observe(b, "nprs", "72h", 3, at=sent + timedelta(hours=30))
    # Follow-up: a's visit done on day 8, b's on day 12 (outside), c's step completed on day 9.
    for e, status, day in ((a, "done", 8), (b, "done", 12), (c, "missed", 9)):
        start = e.procedure_at + timedelta(days=7)
        session.add(Milestone(episode_id=e.id, kind="follow_up", window_start=start, window_end=start +
                              timedelta(days=4), status="done" if e is c else "planned",
                              completed_at=e.procedure_at + timedelta(days=9) if e is c else None))
        session.add(Appointment(episode_id=e.id, kind="follow_up", appointment_at=e.procedure_at + timedelta(days=day),
                                status=status, booked_at=e.procedure_at))
    # PT: a's started on day 20, b's on day 22; c none.
    for e, day in ((a, 20), (b, 22)):
        session.add(Appointment(episode_id=e.id, kind="pt_start", appointment_at=e.procedure_at + timedelta(days=day),
                                status="done", booked_at=e.procedure_at))
    session.flush()
    a.patient.opted_out_at = T0 - timedelta(days=1)
    session.flush()
    figures = {p.key: (p.numerator, p.denominator, p.pct) for p in _report(session, env, staff, **tag).process}
    assert figures == {
        "holds_stopped_on_time": (1, 3, 33.3),
        "postponed_for_hold": (1, 3, 33.3),
        "check_72h_answered": (1, 2, 50.0),
        "follow_up_in_window": (2, 3, 66.7),
        "pt_within_days": (1, 4, 25.0),
        "texts_delivered": (1, 2, 50.0),
        "opt_outs": (1, 4, 25.0),
    }
