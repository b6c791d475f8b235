"""The calendar link in Chromium (issue 14): the episode page shows it, the link answers a calendar,
and a coordinator revokes and re-issues it from the patient page (the old address then 404s)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import requests
from icalendar import Calendar

from pathway.services import episodes as ep
from pathway.services.base import Actor
from pathway.services.patients import enrol_patient
from tests.web.test_browser import _sign_in, chromium, live

pytestmark = pytest.mark.browser
__all__ = ["live"]  # the shared live app (a fixture)

SHOTS = Path(os.environ.get("PATHWAY_TEST_SHOTS", Path(__file__).resolve().parents[2] / "test-output" / "screenshots"))


def test_a_coordinator_sees_the_calendar_link_and_revokes_and_reissues_it(live: Any) -> None:
    server, _clock = live
    SHOTS.mkdir(parents=True, exist_ok=True)
    with server.runtime.unit_of_work() as (session, env):
        coordinator = Actor(role="coordinator", user_id=1, label="user:1")
        patient = enrol_patient(session, env, coordinator, {
            "mrn": "MRN-9101", "given_name": "Rosa", "family_name": "Vega", "birth_date": "1947-01-09",
            "phone": "+1 212 555 0142", "timezone": "America/New_York", "language": "es", "sms_consent": True})
        episode = ep.schedule_episode(session, env, coordinator, patient.id, {
            "procedure_at": "2027-03-15T08:00", "facility": "Riverside Surgery Center",
            "facility_address": "1200 N Main St", "proceduralist": "Dr. Lee", "levels": "L4-L5",
            "holds": [{"drug": "clopidogrel"}]})
        patient_id, episode_id = patient.id, episode.id

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        violations: list[str] = []
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        _sign_in(page, "coordinator@browser.test", at=server.url + "/login")
        page.wait_for_url(server.url + "/")
        page.goto(f"{server.url}/episodes/{episode_id}")
        link = page.locator("#calendar a").first
        url = link.get_attribute("href") or ""
        assert "/ical/" in url and url.endswith(".ics")
        page.screenshot(path=str(SHOTS / "calendar-01-episode-page.png"), full_page=False)
        path = url[url.index("/ical/"):]
        got = requests.get(server.url + path, timeout=30)
        assert got.status_code == 200
        summaries = [str(e["SUMMARY"]) for e in Calendar.from_ical(got.content).walk("VEVENT")]
        assert summaries == ["Llegada para su procedimiento"]

        page.locator("#calendar").get_by_role("link", name="manage").click()
        page.wait_for_url(f"**/patients/{patient_id}#calendar-h")
        assert page.locator("#calendar-url").input_value() == url
        page.get_by_role("button", name="Revoke").click()
        page.get_by_text("The calendar link is revoked").wait_for()
        page.screenshot(path=str(SHOTS / "calendar-02-revoked.png"), full_page=False)
        assert requests.get(server.url + path, timeout=30).status_code == 404
        page.get_by_role("button", name="Issue a calendar link").click()
        page.get_by_text("A new calendar link is ready").wait_for()
        new = page.locator("#calendar-url").input_value()
        assert new != url and "/ical/" in new
        page.screenshot(path=str(SHOTS / "calendar-03-reissued.png"), full_page=False)
        assert requests.get(server.url + new[new.index("/ical/"):], timeout=30).status_code == 200
        assert violations == []
