"""The Outcomes page in a real browser (issue 12): a clinician reads the figures, the charts (drawn
on the server, no script) and their tables, filters by proceduralist, downloads the CSV; at 1280 and
820 pixels wide. Screenshots go under PATHWAY_SHOTS (default test-output/screenshots)."""

from __future__ import annotations

import csv
import io
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pathway.models import Episode, Observation
from pathway.services.base import SYSTEM
from pathway.services.patients import enrol_patient
from tests.web.test_browser import _sign_in, chromium, live

pytestmark = pytest.mark.browser
__all__ = ["live"]  # the shared live app (a fixture)
SHOTS = Path(os.environ.get("PATHWAY_SHOTS", Path(__file__).resolve().parents[2] / "test-output" / "screenshots"))
CLOCK = datetime(2027, 2, 1, 15, 0, tzinfo=UTC)


def _seed(server: Any) -> None:
    """60 procedures over the last 26 months, two proceduralists, with pain, walking and ODI values
    that improve (with spread) at each time point; some answers are missing."""
    days = {"baseline": -7, "72h": 3, "visit": 8, "6w": 42, "3m": 91, "6m": 182, "12m": 365, "24m": 730}
    with server.runtime.unit_of_work() as (session, env):
        patient = enrol_patient(session, env, SYSTEM, {
            "mrn": "MRN900100", "given_name": "Ada", "family_name": "Report", "birth_date": "1945-03-02",
            "phone": "+1 212 555 0190", "timezone": "America/New_York", "language": "en"})
        session.flush()
        for i in range(60):
            when = CLOCK - timedelta(days=10 + i * 13)
            e = Episode(patient_id=patient.id, procedure_at=when, status="completed",
                        proceduralist="Dr. Morgan Lee" if i % 3 else "Dr. Sam Ortiz",
                        facility="Riverside Surgery Center" if i % 2 else "Northside ASC",
                        created_at=when - timedelta(days=30))
            session.add(e)
            session.flush()
            for k, (tp, day) in enumerate(days.items()):
                at = when + timedelta(days=day)
                if at > CLOCK or (i + k) % 7 == 0:
                    continue
                gain = min(k, 4) if i % 4 else -(i % 2)  # one in four does not improve
                values = {"nprs": 7 + i % 3 if k == 0 else max(0, 7 + i % 3 - gain - (i * k) % 4),
                          "walk_minutes": 5 + i % 10 if k == 0 else 5 + i % 10 + gain * 4 + (i * k) % 12,
                          "odi": 40 + i % 15 if k == 0 else max(0, 40 + i % 15 - gain * 4 - (i * k) % 9)}
                for code, value in values.items():
                    session.add(Observation(episode_id=e.id, code=code, value=Decimal(value), unit="x",
                                            time_point=tp, received_at=at, source="staff", created_at=at))


def test_a_clinician_reads_filters_and_downloads_the_outcomes(live: Any) -> None:
    server, clock = live
    clock.set(CLOCK)
    _seed(server)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page = context.new_page()
        problems: list[str] = []
        # Script errors and CSP refusals (a 404 favicon or the 422 page itself are not problems).
        page.on("console", lambda m: problems.append(m.text)
                if m.type == "error" and "Failed to load resource" not in m.text else None)
        missing: list[str] = []
        page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
        _sign_in(page, "clinician@browser.test", at=server.url + "/login")
        page.wait_for_url("**/board")
        page.get_by_role("link", name="Outcomes").click()
        page.wait_for_url("**/outcomes")
        assert page.get_by_role("heading", name="Outcomes", exact=True).is_visible()
        charts = page.locator("svg.chart")
        assert charts.count() == 2 and charts.first.is_visible()
        assert page.get_by_role("img", name="Responders at each time point, with 95% intervals").is_visible()
        change = page.get_by_role("img", name="Median change from baseline: pain and walking, with 95% intervals")
        assert change.is_visible()
        # Each median with 6 or more changes has its whisker; its marker's tooltip names the interval.
        assert "95% interval" in change.inner_html()
        assert page.get_by_text("Read these figures with care.").is_visible()
        assert page.get_by_role("heading", name="How the figures are counted").is_visible()
        table = page.locator("section", has=page.get_by_role("heading", name="Responders at each time point, "
                                                                              "with 95% intervals"))
        assert "6 weeks" in table.locator("tbody").inner_text()
        page.screenshot(path=str(SHOTS / "outcomes-01-clinician-1280.png"), full_page=True)
        for n, section in enumerate(page.locator("main section").all()[:3]):
            section.screenshot(path=str(SHOTS / f"outcomes-01-section{n + 1}-1280.png"))
        # Filter to one proceduralist and a date range.
        page.get_by_label("Proceduralist").select_option("Dr. Sam Ortiz")
        page.get_by_label("Procedures from").fill("2025-01-01")
        page.get_by_role("button", name="Apply filters").click()
        page.wait_for_url("**proceduralist=Dr.+Sam+Ortiz**")
        assert "filtered: from 2025-01-01, proceduralist Dr. Sam Ortiz" in page.locator("main").inner_text()
        with page.expect_download() as got:
            page.get_by_role("link", name="Download these figures (CSV)").first.click()
        rows = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_text())))
        assert len(rows) == 21 and got.value.suggested_filename.startswith("outcomes-time-points-")
        page.screenshot(path=str(SHOTS / "outcomes-02-filtered-1280.png"), full_page=True)
        # A narrow window: the filters stack, the charts scale, the tables scroll.
        page.set_viewport_size({"width": 820, "height": 1000})
        page.screenshot(path=str(SHOTS / "outcomes-03-filtered-820.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 820
        # A bad date is named beside the field.
        page.goto(server.url + "/outcomes?from=2025-02-30")
        assert page.get_by_text("not a date").is_visible()
        page.screenshot(path=str(SHOTS / "outcomes-04-bad-date-820.png"), full_page=True)
        assert problems == []  # no CSP violation, no script error
        assert [u for u in missing if not u.endswith("/favicon.ico")] == []
        context.close()
