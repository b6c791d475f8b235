"""Two people editing one patient in two real browsers (issue 13): the later save is refused and
the page says "someone else changed this record; here is what changed", old and new."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pathway.models import Patient
from pathway.services.base import SYSTEM
from pathway.services.patients import enrol_patient
from tests.web.test_browser import _sign_in, chromium, live

pytestmark = pytest.mark.browser
__all__ = ["live"]  # the shared live app (a fixture)
SHOTS = Path(os.environ.get("PATHWAY_SHOTS", Path(__file__).resolve().parents[2] / "test-output" / "screenshots"))


def test_the_later_of_two_edits_shows_what_the_other_person_changed(live: Any) -> None:
    server, _clock = live
    with server.runtime.unit_of_work() as (session, env):
        patient = enrol_patient(session, env, SYSTEM, {
            "mrn": "MRN700200", "given_name": "Ana", "family_name": "Ruiz", "birth_date": "1948-06-02",
            "phone": "+1 212 555 0142", "timezone": "America/New_York", "language": "es", "sms_consent": True,
            "consent_method": "verbal"})
        session.flush()
        pid = patient.id
    edit = f"{server.url}/patients/{pid}/edit"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        casey = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        morgan = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        _sign_in(casey, "coordinator@browser.test", at=server.url + "/login")
        _sign_in(morgan, "clinician@browser.test", at=server.url + "/login")
        casey.goto(edit)
        morgan.goto(edit)
        morgan.get_by_label("Family name").fill("Ruiz Ortega")
        morgan.get_by_role("button", name="Review and save").click()
        morgan.wait_for_url(f"{server.url}/patients/{pid}")
        casey.get_by_label("Given name").fill("Anabel")
        casey.get_by_role("button", name="Review and save").click()
        notice = casey.locator("#conflict")
        notice.wait_for()
        casey.screenshot(path=str(SHOTS / "versions-conflict.png"), full_page=True)
        assert "Someone else changed this record; here is what changed" in notice.inner_text()
        row = notice.locator("tbody tr").first
        assert row.inner_text().split("\t") == ["Family name", "Ruiz", "Ruiz Ortega"]
        assert casey.get_by_label("Given name").input_value() == "Anabel"  # what she typed is kept
        # ... and the field she left alone shows Morgan's change, so saving again keeps it.
        assert casey.get_by_label("Family name").input_value() == "Ruiz Ortega"
        with server.runtime.unit_of_work() as (session, _env):
            stored = session.get(Patient, pid)
            assert stored is not None and (stored.given_name, stored.family_name) == ("Ana", "Ruiz Ortega")
        # Saved again from this page (it now carries the new version), it goes through.
        casey.get_by_role("button", name="Review and save").click()
        casey.wait_for_url(f"{server.url}/patients/{pid}")
        with server.runtime.unit_of_work() as (session, _env):
            stored = session.get(Patient, pid)
            assert stored is not None and (stored.given_name, stored.family_name) == ("Anabel", "Ruiz Ortega")
