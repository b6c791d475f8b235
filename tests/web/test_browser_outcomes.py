"""The episode page's outcome form in a real browser (issue 12): a clinician records the ODI
taken at the follow-up visit by its labels, then corrects it; screenshots under /tmp/shots/outcomes/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pathway.services import episodes as ep
from pathway.services import patients as patient_service
from pathway.services.base import SYSTEM
from tests.web.test_browser import _sign_in, chromium, live  # noqa: F401  (the live server fixture)

SHOTS = Path("/tmp/shots/outcomes")


def test_a_clinician_records_and_corrects_a_visit_outcome_by_its_labels(live: Any) -> None:  # noqa: F811
    server, _clock = live
    SHOTS.mkdir(parents=True, exist_ok=True)
    with server.runtime.unit_of_work() as (session, env):
        patient = patient_service.enrol_patient(session, env, SYSTEM, {
            "mrn": "OUT-1", "given_name": "Rosa", "family_name": "Alvarez", "birth_date": "1951-06-02",
            "phone": "+1 212 555 0142", "timezone": "America/New_York", "language": "es", "sms_consent": True})
        episode = ep.schedule_episode(session, env, SYSTEM, patient.id, {"procedure_at": "2027-02-03T08:00"})
        eid = episode.id
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        _sign_in(page, "clinician@browser.test", at=server.url + "/login")
        page.wait_for_load_state()  # a clinician's home is the follow-up board
        page.goto(f"{server.url}/episodes/{eid}#outcomes")
        box = page.get_by_role("region", name="Outcomes")
        box.get_by_text("Record an outcome (visit or call)").click()
        box.get_by_label("Measure").select_option("odi")
        box.get_by_label("Time point").select_option("baseline")
        box.get_by_label("Value", exact=True).fill("52")
        box.get_by_label("How it was taken").select_option("visit")
        page.locator("#outcomes").screenshot(path=str(SHOTS / "01-form.png"))
        box.get_by_role("button", name="Save outcome").click()
        page.wait_for_url(f"{server.url}/episodes/{eid}")
        assert page.get_by_text("Outcome recorded.").is_visible()
        box = page.get_by_role("region", name="Outcomes")
        # A value out of range comes back with the field named.
        box.get_by_text("Record an outcome (visit or call)").click()
        box.get_by_label("Measure").select_option("odi")
        box.get_by_label("Time point").select_option("baseline")
        box.get_by_label("Value", exact=True).fill("152")
        box.get_by_role("button", name="Save outcome").click()
        box = page.get_by_role("region", name="Outcomes")
        error = page.locator("#outcome-value-error").inner_text().strip()
        assert error.endswith("must be from 0 to 100 (points) for odi")
        page.locator("#outcomes").screenshot(path=str(SHOTS / "02-error.png"))
        box.get_by_label("Value", exact=True).fill("48")
        box.get_by_role("button", name="Save outcome").click()
        page.wait_for_url(f"{server.url}/episodes/{eid}")
        row = page.locator("#outcomes tbody tr")
        assert row.count() == 1
        text = row.inner_text()
        assert "Oswestry Disability Index (0-100)" in text and "48" in text and "replaced 1 earlier value: 52" in text
        page.locator("#outcomes").screenshot(path=str(SHOTS / "03-corrected.png"))
