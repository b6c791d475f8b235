"""The conversation with a patient in a real browser (issue 11, "Acting on replies"): the thread
of texts and replies on the episode page, a one-off text reviewed then sent (and, at night,
held for the morning unless urgent), and a red flag resolved there with a note that joins the
thread."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pathway.dispatch.worker import Worker
from pathway.services import episodes as ep
from pathway.services.base import SYSTEM
from pathway.services.patients import enrol_patient
from pathway.services.replies import receive_reply
from tests.conftest import T0
from tests.web.test_browser import _sign_in, chromium, live

pytestmark = pytest.mark.browser
__all__ = ["live"]  # the shared live app (a fixture)
SHOTS = Path(os.environ.get("PATHWAY_SHOTS", Path(__file__).resolve().parents[2] / "test-output" / "screenshots"))


def test_a_coordinator_reads_the_thread_texts_the_patient_and_resolves_the_red_flag_with_a_note(live: Any) -> None:
    server, clock = live
    rt = server.runtime
    worker = Worker.build(rt.config, rt.sessions, rt.rules, clock, wid="browser-worker")
    with rt.unit_of_work() as (session, env):
        patient = enrol_patient(session, env, SYSTEM, {
            "mrn": "MRN700200", "given_name": "Maria", "family_name": "Lopez", "birth_date": "1951-03-09",
            "phone": "+1 312 555 0148", "timezone": "America/Chicago", "language": "en", "sms_consent": True,
            "consent_method": "verbal"})
        session.flush()
        episode = ep.schedule_episode(session, env, SYSTEM, patient.id, {"procedure_at": "2027-02-10T08:00"})
        eid = episode.id
    worker.dispatcher.dispatch_due()  # the enrolment text goes
    clock.set(T0 + timedelta(minutes=35))
    with rt.unit_of_work() as (session, env):
        receive_reply(session, env, from_number="+13125550148", body="got it. also my back wound is red and hot",
                      provider_id="SMbrowser-thread1")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def shot(step: str) -> None:
            page.screenshot(path=str(SHOTS / f"conversation-{step}.png"), full_page=True)

        try:
            _sign_in(page, "coordinator@browser.test", at=server.url + "/login")
            page.wait_for_url(server.url + "/")
            # The worklist's red flag opens the reply itself, in the conversation.
            page.locator(".worklist-item.kind-red_flag .wl-actions a").first.click()
            page.wait_for_url(f"**/episodes/{eid}#reply-*")
            thread = page.locator("#conversation .thread")
            items = thread.locator("> li")
            # The enrolment text, the baseline pain question (issue 12: asked at enrolment), the
            # reply, the answer sent straight back.
            assert items.count() == 4
            assert "Enrolment confirmation" in items.nth(0).inner_text()
            assert "How bad is your pain when you stand or walk?" in items.nth(1).inner_text()
            reply = items.nth(2)
            assert "got it. also my back wound is red and hot" in reply.inner_text()
            assert reply.get_by_text("Red flag: wound").is_visible()
            assert reply.get_by_role("link", name="Not resolved yet: record what was done").is_visible()
            assert "911" in items.nth(3).inner_text()
            # The patient's clock first (Chicago), then the clinic's (New York).
            assert "Mon 1 Feb 2027, 09:35 CST (clinic: 10:35 EST)" in reply.inner_text()
            items.nth(0).get_by_text("Delivery history (3)").click()
            assert "dispatch: sending → delivered" in items.nth(0).inner_text()  # the console backend delivers at once
            assert page.get_by_text("Write no diagnosis, procedure or medicine name").is_visible()
            shot("01-thread-with-red-flag")
            page.locator("#conversation").screenshot(path=str(SHOTS / "conversation-01b-thread-close.png"))

            # A one-off text: reviewed first, then sent once.
            words = "Hi Maria, this is the clinic. A nurse will call you in the next 15 minutes about the wound."
            page.get_by_label("The words, as the patient will read them").fill(words)
            page.get_by_role("button", name="Review the text").click()
            page.get_by_role("heading", name="Review the text to Lopez, Maria").wait_for()
            assert page.locator("#text-length").inner_text() == f"{len(words)} characters"
            assert page.locator("#text-segments").inner_text().startswith("1")
            assert page.locator("#text-when").inner_text() == "Now"
            assert page.locator(".phone-bubble").inner_text() == words
            shot("02-review-the-text")
            page.get_by_role("button", name="Send this text").click()
            page.wait_for_url(f"**/episodes/{eid}#thread-message-*")
            assert page.get_by_text("Text queued: it goes now").is_visible()
            mine = page.locator("#conversation .thread-staff")
            assert words in mine.inner_text() and "typed by Casey Coordinator" in mine.inner_text()
            assert mine.get_by_text("Scheduled", exact=True).is_visible()
            worker.dispatcher.dispatch_due()
            page.reload()
            assert page.locator("#conversation .thread-staff").get_by_text("Delivered", exact=True).is_visible()
            shot("03-text-sent")

            # The red flag: a note (or an outcome) is needed, and the note joins the thread.
            clock.set(T0 + timedelta(minutes=52))
            task = page.locator(".resolve-red")
            task.get_by_role("button", name="Done").click()
            assert page.get_by_text("Not marked as done: record what was done").is_visible()
            task = page.locator(".resolve-red")
            task.get_by_label("What was done").select_option("Called the patient: booked to be seen at the clinic")
            task.get_by_label("Note (shown in the conversation)").fill("wound red 3 cm, no fever; seen today at 2pm")
            task.get_by_role("button", name="Done").click()
            assert page.get_by_text("Task marked as done").is_visible()
            note = page.locator("#conversation .thread-note")
            assert "Red flag resolved by Casey Coordinator" in note.inner_text()
            assert ("Called the patient: booked to be seen at the clinic - wound red 3 cm, no fever; seen today at 2pm"
                    in note.inner_text())
            assert page.locator("#conversation .thread > li").last.get_attribute("class") is not None
            assert page.locator(".resolve-red").count() == 0
            assert not page.get_by_text("Not resolved yet").is_visible()
            assert page.locator("#conversation .reply-red").get_by_text("Resolved: the note is below").is_visible()
            shot("04-red-flag-resolved")
            page.locator("#conversation").screenshot(path=str(SHOTS / "conversation-04b-thread-close.png"))

            # At night a text waits for the patient's morning, unless marked urgent.
            clock.set(T0 + timedelta(hours=12, minutes=30))  # 21:30 in Chicago
            page.goto(server.url + "/login")
            _sign_in(page, "coordinator@browser.test")
            page.goto(server.url + f"/episodes/{eid}#conversation")
            page.get_by_label("The words, as the patient will read them").fill("Your paperwork is ready.")
            page.get_by_role("button", name="Review the text").click()
            when = page.locator("#text-when").inner_text()
            assert when == "At Tue 2 Feb 2027, 08:00 CST (clinic: 09:00 EST), when the patient's quiet hours end"
            queue = page.get_by_role("button", name="Send this text at Tue 2 Feb 2027, 08:00 CST, their time")
            assert queue.is_visible()
            shot("05-review-at-night")
            page.get_by_text("Change the words or mark it urgent").click()
            page.get_by_label("Urgent: send at once").check()
            page.get_by_role("button", name="Review again").click()
            assert page.locator("#text-when").inner_text() == \
                "Now, even though it is the patient's quiet hours (marked urgent)"
            assert page.get_by_role("button", name="Send this text now (urgent)").is_visible()
            shot("06-review-urgent")
        finally:
            worker.dispatcher.close()
