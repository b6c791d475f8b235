"""A reply from a number that matches no patient, in a real browser (issue 11): the worklist
shows the number and the words at red-flag priority; a coordinator finds the patient and links
it; it becomes that patient's red flag, which is closed only with a note of what was done."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pathway.services import episodes as ep
from pathway.services.base import SYSTEM
from pathway.services.patients import enrol_patient
from pathway.services.replies import receive_reply
from tests.web.test_browser import _sign_in, chromium, live

pytestmark = pytest.mark.browser
__all__ = ["live"]  # the shared live app (a fixture)
SHOTS = Path(os.environ.get("PATHWAY_SHOTS", Path(__file__).resolve().parents[2] / "test-output" / "screenshots"))


def test_a_red_flag_from_an_unknown_number_is_linked_to_the_patient_and_resolved_with_a_note(live: Any) -> None:
    server, _clock = live
    with server.runtime.unit_of_work() as (session, env):
        patient = enrol_patient(session, env, SYSTEM, {
            "mrn": "MRN700100", "given_name": "Ana", "family_name": "Ruiz", "birth_date": "1948-06-02",
            "phone": "+1 212 555 0142", "timezone": "America/New_York", "language": "es", "sms_consent": True,
            "consent_method": "verbal"})
        session.flush()
        eid = ep.schedule_episode(session, env, SYSTEM, patient.id, {"procedure_at": "2027-02-03T08:00"}).id
        receive_reply(session, env, from_number="+13055550199", body="soy su hija, mi mama tiene calentura",
                      provider_id="SMbrowser1")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def shot(step: str) -> None:
            page.screenshot(path=str(SHOTS / f"replies-{step}.png"), full_page=True)

        _sign_in(page, "coordinator@browser.test", at=server.url + "/login")
        page.wait_for_url(server.url + "/")
        item = page.locator(".worklist-item.kind-unmatched_reply")
        assert item.get_by_text("Red flag from an unknown number: call today").is_visible()
        assert item.get_by_role("link", name="(305) 555-0199").get_attribute("href") == "tel:+13055550199"
        assert item.get_by_text("soy su hija, mi mama tiene calentura").is_visible()
        assert page.locator(".tile-danger .tile-n").inner_text() == "1"
        shot("01-worklist-unmatched")

        # Dismissing needs a note: the browser will not send an empty one.
        assert item.get_by_label("Dismiss with a note (required)").get_attribute("required") is not None

        item.get_by_role("link", name="Link to a patient").click()
        page.get_by_role("heading", name="Whose reply is this?").wait_for()
        page.get_by_label("Find the patient by name or MRN").fill("Ruiz")
        page.get_by_role("button", name="Search").click()
        shot("02-reply-search")
        page.get_by_role("button", name="Link to Ruiz, Ana").click()
        page.wait_for_url("**/episodes/**#reply-*")
        assert page.get_by_text("Reply linked to the patient").is_visible()
        # It is now hers: in her conversation, from the daughter's number, an open red flag.
        linked = page.locator("#conversation .thread-in")
        assert "soy su hija, mi mama tiene calentura" in linked.inner_text()
        assert "from (305) 555-0199" in linked.inner_text()
        assert linked.get_by_text("Red flag: fever").is_visible()
        assert linked.get_by_role("link", name="Not resolved yet: record what was done").is_visible()
        assert page.locator(".resolve-red").get_by_label("What was done").is_visible()
        shot("03-linked-episode")

        page.goto(server.url + "/")
        red = page.locator(".worklist-item.kind-red_flag")
        assert red.get_by_role("link", name="Ruiz, Ana").is_visible()
        assert red.get_by_text("soy su hija, mi mama tiene calentura").is_visible()
        assert page.locator(".worklist-item.kind-unmatched_reply").count() == 0
        red.get_by_role("button", name="Done").click()
        assert page.get_by_text("Not marked as done: record what was done").is_visible()  # a note is needed
        red = page.locator(".worklist-item.kind-red_flag")
        red.get_by_label("What was done").select_option("Called the patient: sent to the emergency department")
        red.get_by_label("Note").fill("daughter drove her to St Mary's ED")
        shot("04-resolve-with-note")
        red.get_by_role("button", name="Done").click()
        assert page.get_by_text("Task marked as done").is_visible()
        assert page.locator(".worklist-item.kind-red_flag").count() == 0
        shot("05-worklist-after")

        # Her episode's conversation keeps what was done, by whom: the note follows the reply.
        page.goto(server.url + f"/episodes/{eid}#conversation")
        items = page.locator("#conversation .thread > li")
        texts = [items.nth(i).inner_text() for i in range(items.count())]
        where = next(i for i, t in enumerate(texts) if "soy su hija" in t)
        matched, note = texts[where + 1:where + 3]
        assert matched.strip().startswith("Reply matched to this patient by Casey Coordinator")
        assert "linked to patient" not in matched  # the title says it; no database ids
        assert "Red flag resolved by Casey Coordinator" in note
        assert "Called the patient: sent to the emergency department - daughter drove her to St Mary's ED" in note
        page.locator("#conversation").screenshot(path=str(SHOTS / "replies-06-conversation-after.png"))
