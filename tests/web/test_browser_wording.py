"""Issue 15's words in a real browser: a UK patient's pages (phone type, both zones, inputs naming
their zone, the preview naming each medicine) and a coordinator refused an admin page (403 that
says why). Screenshots go to /tmp/shots/wording/ (PATHWAY_WORDING_SHOTS) for people to look at."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pathway.services import episodes as ep
from pathway.services.base import Actor
from pathway.services.patients import enrol_patient
from tests.web.test_browser import _sign_in, chromium, live

pytestmark = pytest.mark.browser
__all__ = ["live"]  # the shared live app (a fixture)

SHOTS = Path(os.environ.get("PATHWAY_WORDING_SHOTS", "/tmp/shots/wording"))


def test_a_uk_patients_pages_and_a_refused_admin_page_read_true(live: Any) -> None:
    server, _clock = live
    SHOTS.mkdir(parents=True, exist_ok=True)
    with server.runtime.unit_of_work() as (session, env):
        coordinator = Actor(role="coordinator", user_id=1, label="user:1")
        clinician = Actor(role="clinician", user_id=2, label="user:2")
        patient = enrol_patient(session, env, coordinator, {
            "mrn": "MRN100206", "given_name": "Ann", "family_name": "Walsh", "birth_date": "1947-01-09",
            "phone": "+44 7911 123456", "timezone": "Europe/London", "language": "en", "sms_consent": True})
        episode = ep.schedule_episode(session, env, coordinator, patient.id, {
            "procedure_at": "2027-03-10T13:00", "facility": "Riverside Surgery Center", "proceduralist": "Dr. Lee",
            "levels": "L4-L5", "holds": [{"drug": "clopidogrel"}, {"drug": "apixaban"}]})
        for hold in episode.holds:
            ep.record_clearance(session, env, clinician, hold.id, {"status": "approved", "by": "Dr. Ortiz"})
        patient_id, episode_id = patient.id, episode.id

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        _sign_in(page, "coordinator@browser.test", at=server.url + "/login")
        page.wait_for_url(server.url + "/")

        page.goto(f"{server.url}/patients/{patient_id}")
        assert page.get_by_text("MRN 100206").first.is_visible()
        assert page.get_by_text("(mobile)").first.is_visible()
        assert page.get_by_text("landline").count() == 0
        page.screenshot(path=str(SHOTS / "01-patient-uk-mobile.png"), full_page=True)

        page.goto(f"{server.url}/episodes/{episode_id}")
        assert page.locator(".patient-phone").inner_text().startswith("Phone +44 7911 123456")
        page.screenshot(path=str(SHOTS / "02-episode-both-zones.png"), full_page=True)

        page.goto(f"{server.url}/episodes/{episode_id}/reschedule")
        assert page.get_by_text("not the clinic's (America/New York)").first.is_visible()
        page.get_by_label("New date and time").fill("2027-03-17T13:00")
        page.get_by_role("button", name="Preview changes").click()
        send = page.locator(".diff-send").inner_text()
        assert "your anti-platelet medicine (clopidogrel)" in send and "your blood thinner (apixaban)" in send
        page.screenshot(path=str(SHOTS / "03-reschedule-preview-names-medicines.png"), full_page=True)

        page.goto(f"{server.url}/admin/users")
        assert page.get_by_role("heading", name="Not allowed for your role").is_visible()
        assert page.get_by_text("it needs the admin role").is_visible()
        page.screenshot(path=str(SHOTS / "04-coordinator-on-admin-page-403.png"), full_page=False)
