"""The Outcomes page (issue 12): figures, charts drawn on the server with a table each, CSV
downloads with the same filters, definitions and caveats; clinicians and admins only."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from pathway.models import AuditEvent, Episode, Observation
from pathway.services.outcomes_report import _text_cell

OLD = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


@pytest.fixture
def seeded(session: Any, make_patient: Any) -> None:
    """Three procedures 62 days before the clock: pain 8->4, 6->5, 5->1 at 6 weeks; walking 10->25 for one."""
    for base, six, proceduralist in ((8, 4, "Dr. Page"), (6, 5, "Dr. Page"), (5, 1, "Dr. Other")):
        e = Episode(patient_id=make_patient().id, procedure_at=OLD, status="completed", proceduralist=proceduralist,
                    facility="Riverside Surgery Center", created_at=OLD - timedelta(days=30))
        session.add(e)
        session.flush()
        values = [("nprs", "baseline", base), ("nprs", "6w", six)]
        if base == 8:
            values += [("walk_minutes", "baseline", 10), ("walk_minutes", "6w", 25)]
        for code, tp, value in values:
            at = OLD + timedelta(days=1)
            session.add(Observation(episode_id=e.id, code=code, value=Decimal(value), unit="x", time_point=tp,
                                    received_at=at, source="staff", created_at=at))
    session.commit()  # as a writer's transaction ends: its report rows are written at the commit


def test_a_clinician_sees_the_figures_charts_tables_and_definitions(as_role: Any, seeded: None) -> None:
    page = as_role("clinician").get("/outcomes")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count("<svg class=\"chart\"") == 2 and "<script" not in html.split("<main", 1)[1].split("</main>")[0]
    assert "Responders at each time point, with 95% intervals" in html
    assert "Clinic pages: 79% improved" in html  # the published line on the responders chart
    # 6 weeks: pain n 3, responders 8->4 and 5->1: 66.7% (2; Wilson 20.8-93.9%).
    assert "66.7%<br><span class=\"small text-body-secondary text-nowrap\">(2; 20.8\u201393.9%)</span>" in html
    assert "Pain responder" in html and "NPRS down by at least 30% and at least 2 points" in html
    assert "not a trial" in html and "small numbers" in html
    assert 'href="/outcomes.csv?part=time_points"' in html
    assert "Staats et al., Reg Anesth Pain Med 2018;43:789-794" in html


def test_filters_narrow_the_figures_and_the_csv_follows_them(as_role: Any, seeded: None, session: Any) -> None:
    clinician = as_role("clinician")
    html = clinician.get("/outcomes?proceduralist=Dr.+Page&from=2026-11-01&to=2026-12-31").get_data(as_text=True)
    # Pain: 1 of 2.
    assert "50.0%<br><span class=\"small text-body-secondary text-nowrap\">(1; 9.5\u201390.5%)</span>" in html
    assert "/outcomes.csv?part=time_points&amp;from=2026-11-01&amp;to=2026-12-31&amp;proceduralist=Dr.+Page" in html
    got = clinician.get("/outcomes.csv?part=time_points&from=2026-11-01&to=2026-12-31&proceduralist=Dr.+Page")
    assert got.status_code == 200 and got.mimetype == "text/csv"
    assert "attachment" in got.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(got.get_data(as_text=True))))
    six = {r["measure"]: r for r in rows if r["time_point"] == "6w"}
    assert (six["nprs"]["n"], six["nprs"]["median"], six["nprs"]["responders_pct"]) == ("2", "4.5", "50.0")
    assert (six["nprs"]["median_change_pct"], six["nprs"]["ci95_low"], six["nprs"]["ci95_high"]) == ("-33.3", "9.5",
                                                                                                      "90.5")
    assert (six["walk_minutes"]["n"], six["walk_minutes"]["responders"]) == ("1", "1")
    assert six["odi"]["mean_change"] == "" and len(rows) == 7 * 3
    process = clinician.get("/outcomes.csv?part=process&proceduralist=Dr.+Page")
    keys = [r["key"] for r in csv.DictReader(io.StringIO(process.get_data(as_text=True)))]
    assert "texts_delivered" in keys and "opt_outs" in keys
    actions = [a.action for a in session.scalars(select(AuditEvent).where(AuditEvent.action.like("outcomes.%")))]
    assert actions.count("outcomes.export") == 2


def test_a_formula_in_a_text_cell_is_neutralised() -> None:
    assert _text_cell("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert _text_cell("72 hours") == "72 hours"


def test_a_bad_date_is_named_on_the_page(as_role: Any) -> None:
    page = as_role("clinician").get("/outcomes?from=2027-02-30")
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert "is-invalid" in html and "not a date" in html and "Check the filters" in html


def test_a_bad_filter_on_a_download_is_named_not_a_missing_page(as_role: Any) -> None:
    clinician = as_role("clinician")
    got = clinician.get("/outcomes.csv?part=time_points&from=2027-02-30")
    assert got.status_code == 422 and got.mimetype == "text/plain"
    assert "from: " in got.get_data(as_text=True) and "not a date" in got.get_data(as_text=True)
    wrong = clinician.get("/outcomes.csv?part=everything")
    assert wrong.status_code == 422 and "part: must be one of time_points, process" in wrong.get_data(as_text=True)


def test_an_empty_range_says_what_to_do(as_role: Any) -> None:
    html = as_role("admin").get("/outcomes?from=2030-01-01").get_data(as_text=True)
    assert "No outcomes to show yet" in html and "Record each patient" in html


def test_coordinators_may_not_open_it_and_the_refusal_is_audited(as_role: Any, session: Any) -> None:
    coordinator = as_role("coordinator")
    refused = coordinator.get("/outcomes")
    assert refused.status_code == 403  # a page that says the role may not open it, not "Not found"
    assert "clinician" in refused.get_data(as_text=True).lower()
    assert coordinator.get("/outcomes.csv").status_code == 403
    denied = list(session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied")))
    assert [d.detail["route"] for d in denied] == ["/outcomes", "/outcomes.csv"]
    assert 'href="/outcomes"' not in coordinator.get("/").get_data(as_text=True)
    assert 'href="/outcomes"' in as_role("clinician").get("/board").get_data(as_text=True)
