"""GET /api/v1/reports/outcomes (issue 12): the report for clinicians and admins, validated against
the served OpenAPI document by the harness; a coordinator's 403 is audited; a bad filter is a 422
naming it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pathway.models import Episode, Observation
from tests.web.conftest_api import Harness

OLD = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def _seed(api: Harness, proceduralist: str, pain: list[tuple[int, int]]) -> None:
    """Procedures 62 days before the clock, each with an NPRS baseline and a 6-week value."""
    patient = api.patient()
    with api.runtime.unit_of_work() as (session, _env):
        for base, six_weeks in pain:
            e = Episode(patient_id=patient["id"], procedure_at=OLD, status="completed", proceduralist=proceduralist,
                        facility="API Facility", created_at=OLD - timedelta(days=30))
            session.add(e)
            session.flush()
            for tp, value in (("baseline", base), ("6w", six_weeks)):
                at = OLD + timedelta(days=1)
                session.add(Observation(episode_id=e.id, code="nprs", value=Decimal(value), unit="points",
                                        time_point=tp, received_at=at, source="staff", created_at=at))


def test_a_clinician_gets_the_report_for_a_proceduralist(api: Harness) -> None:
    who = f"Dr. Api {api.tag}"
    _seed(api, who, [(8, 4), (6, 5), (5, 1)])
    got = api.get(f"/reports/outcomes?proceduralist={who}&from=2026-11-01&to=2026-12-31", role="clinician")
    assert got.status == 200, got
    assert [t["time_point"] for t in got.json["time_points"]] == ["72h", "visit", "6w", "3m", "6m", "12m", "24m"]
    six = next(t for t in got.json["time_points"] if t["time_point"] == "6w")
    assert (six["episodes"], six["answered"]) == (3, 3)
    # 8->4 (-50%), 6->5 (-16.7%), 5->1 (-80%): median value 4, median change -50%; responders 8->4 and 5->1.
    assert six["nprs"] == {"n": 3, "median": 4.0, "median_ci95": None, "median_change_pct": -50.0,
                           "median_change_pct_ci95": None,
                           "responders": {"n": 2, "pct": 66.7, "ci95": [20.8, 93.9]}}
    assert six["walk_minutes"]["n"] == 0 and six["walk_minutes"]["responders"]["ci95"] is None
    assert {p["figure"] for p in got.json["published"]} >= {"79%", "53%", "34%", "-22.7 points", "-3.6 points"}
    assert all(p["citation"] for p in got.json["published"])
    assert {p["key"] for p in got.json["process"]} == {
        "holds_stopped_on_time", "postponed_for_hold", "check_72h_answered", "follow_up_in_window",
        "pt_within_days", "texts_delivered", "opt_outs"}
    assert got.json["as_of"] == api.clock().isoformat()
    views = api.audit_actions(action="outcomes.view")
    assert views and views[-1][4] == api.user_ids["clinician"]
    # Outside the date range: nobody.
    later = api.get(f"/reports/outcomes?proceduralist={who}&from=2027-01-01", role="admin")
    assert later.status == 200 and all(t["episodes"] == 0 for t in later.json["time_points"])


def test_a_coordinator_gets_403_and_the_refusal_is_audited(api: Harness) -> None:
    before = len(api.audit_actions(action="access.denied"))
    got = api.get("/reports/outcomes")
    assert got.status == 403
    assert len(api.audit_actions(action="access.denied")) == before + 1


def test_bad_filters_are_422_naming_the_field(api: Harness) -> None:
    bad = api.get("/reports/outcomes?from=2027-02-30", role="clinician")
    assert bad.status == 422 and list(bad.errors) == ["from"]
    bad = api.get("/reports/outcomes?from=2027-02-02&to=2027-02-01", role="clinician")
    assert bad.status == 422 and list(bad.errors) == ["to"]
    assert api.get("/reports/outcomes", role=None).status == 401
