"""Observations in a real browser (issue 11): a coordinator records a baseline pain score from the
episode page's small form; a bad value is refused with the field named; the list shows it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pathway.services import episodes as ep
from pathway.services.base import SYSTEM
from pathway.services.patients import enrol_patient
from tests.web.test_browser import _sign_in, chromium, live

pytestmark = pytest.mark.browser
__all__ = ["live"]  # the shared live app (a fixture)
SHOTS = Path(os.environ.get("PATHWAY_SHOTS", Path(__file__).resolve().parents[2] / "test-output" / "screenshots"))


def test_a_coordinator_records_a_pain_score_from_the_episode_page(live: Any) -> None:
    server, _clock = live
    with server.runtime.unit_of_work() as (session, env):
        patient = enrol_patient(session, env, SYSTEM, {
            "mrn": "MRN700300", "given_name": "Rosa", "family_name": "Vega", "birth_date": "1947-02-11",
            "phone": "+1 212 555 0143", "timezone": "America/New_York", "language": "es", "sms_consent": True,
            "consent_method": "verbal"})
        session.flush()
        episode = ep.schedule_episode(session, env, SYSTEM, patient.id, {"procedure_at": "2027-03-10T08:00",
                                                                         "holds": [{"drug": "clopidogrel"}]})
        session.flush()
        episode_id = episode.id
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        _sign_in(page, "coordinator@browser.test", at=server.url + "/login")
        page.wait_for_url(server.url + "/")
        page.goto(f"{server.url}/episodes/{episode_id}#observations")
        section = page.locator("#observations")
        assert section.get_by_text("No observations yet").is_visible()
        section.get_by_text("Record an observation").click()
        section.get_by_label("What").select_option("nprs")
        section.get_by_label("Value").fill("12")
        section.get_by_label("Time point").select_option("baseline")
        section.get_by_role("button", name="Save observation").click()
        section = page.locator("#observations")
        assert section.get_by_text("must be from 0 to 10").is_visible()
        section.screenshot(path=str(SHOTS / "observations-01-refused.png"))
        section.get_by_label("Value").fill("6")
        section.get_by_role("button", name="Save observation").click()
        assert page.get_by_text("Observation recorded.").is_visible()
        row = page.locator("#observations tbody tr").first
        assert "Pain (0-10)" in row.inner_text() and "6/10" in row.inner_text()
        assert "baseline" in row.inner_text() and "Staff" in row.inner_text()
        page.locator("#observations").screenshot(path=str(SHOTS / "observations-02-recorded.png"))
