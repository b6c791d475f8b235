"""The patients and messages pages in a real browser (Chromium), at 1280 and 820 px: the active
patients on opening, a search typed family name first and a phone number as people type it, each
result saying why it matched; the messages with their words, filtered by kind and by patient, and
a failed text's link to what fixes it. Screenshots under /tmp/shots/search/."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from pathway.dispatch.outbox import record_failure
from pathway.models import Message, User
from pathway.services import outbox
from pathway.services.base import Actor
from pathway.services.episodes import schedule_episode
from pathway.services.patients import enrol_patient
from tests.web.test_browser import _sign_in, chromium, live  # noqa: F401 (live: the shared app, a fixture)

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots/search")

PEOPLE = [
    ("Ana", "Ruiz", "MRN100200", "+1 646 555 0123", "2027-02-10T08:00"),
    ("Ana María", "Ruiz Gómez", "MRN100201", "+1 646 555 0124", "2027-02-12T09:30"),
    ("José", "García-López", "MRN100202", "+1 646 555 0125", "2027-02-04T08:00"),
    ("Seán", "O'Brien", "MRN100203", "+1 646 555 0126", "2027-02-24T10:00"),
    ("Linh", "Nguyen", "MRN100204", "+1 646 555 0127", None),
]


def _seed(server: Any) -> dict[str, int]:
    ids: dict[str, int] = {}
    with server.runtime.unit_of_work() as (session, env):
        user = session.scalar(select(User).where(User.email == "coordinator@browser.test"))
        coordinator = Actor.for_user(user)
        for given, family, mrn, phone, when in PEOPLE:
            p = enrol_patient(session, env, coordinator, {
                "mrn": mrn, "given_name": given, "family_name": family, "birth_date": "1950-04-30",
                "phone": phone, "timezone": "America/New_York", "language": "en", "sms_consent": True})
            session.flush()
            ids[mrn] = p.id
            if when:
                schedule_episode(session, env, coordinator, p.id, {"procedure_at": when, "facility": "Riverside",
                                                                   "proceduralist": "Dr. Lee", "holds": []})
        session.flush()
        # A text to José refused by the provider (a landline): his number is flagged.
        msg = session.scalar(select(Message).where(Message.patient_id == ids["MRN100202"]).order_by(Message.id))
        assert msg is not None
        outbox.record(session, msg, outbox.Sending(worker="test"), now=env.now, source="dispatch")
        record_failure(session, env, msg.id, outcome="permanent", code=30006, http_status=400, retry_after=None,
                       configuration=None, worker_id="test", max_attempts=3, base=timedelta(seconds=1),
                       ceiling=timedelta(seconds=2), rng=random.Random(1))
    return ids


@pytest.mark.parametrize("width", [1280, 820])
def test_a_coordinator_finds_patients_and_reads_their_texts(live: Any, width: int) -> None:  # noqa: F811
    server, _clock = live
    SHOTS.mkdir(parents=True, exist_ok=True)
    ids = _seed(server)

    with chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": 900})

        def shot(step: str) -> None:
            page.screenshot(path=str(SHOTS / f"{width}-{step}.png"), full_page=True)

        def fits() -> None:
            """Nothing wider than the window but the tables, which scroll in their own box."""
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= width, (wide, width)

        _sign_in(page, "coordinator@browser.test", at=server.url + "/login")
        page.wait_for_url(server.url + "/")
        page.goto(server.url + "/patients")  # (at 820 px the menu is behind its button)
        page.get_by_role("heading", name="Patients").wait_for()
        # The active patients, without searching: Nguyen has no procedure, so is not among them.
        caption = page.locator("caption").inner_text()
        assert "4 active patients" in caption, caption
        assert page.get_by_role("link", name="Ruiz, Ana", exact=True).is_visible()
        assert page.get_by_text("Nguyen, Linh").count() == 0
        fits()
        shot("patients-01-active")

        # Family name first, lower case, no accent.
        page.get_by_label("Name, MRN or mobile phone").fill("ruiz ana")
        page.get_by_role("button", name="Search").click()
        page.get_by_text("2 patients matching").wait_for()
        rows = page.locator("tbody tr")
        assert rows.count() == 2
        assert "Family name and given name" in rows.nth(0).inner_text()
        fits()
        shot("patients-02-family-first")

        # A phone number as people type it.
        page.get_by_label("Name, MRN or mobile phone").fill("646.555.0127")
        page.get_by_role("button", name="Search").click()
        page.get_by_text("1 patient matching").wait_for()
        assert "Mobile phone" in page.locator("tbody tr").first.inner_text()
        assert "Nguyen, Linh" in page.locator("tbody tr").first.inner_text()
        shot("patients-03-phone")

        # Nobody: what to do next.
        page.get_by_label("Name, MRN or mobile phone").fill("Zed Nobody")
        page.get_by_role("button", name="Search").click()
        page.get_by_text("No patient matches").wait_for()
        shot("patients-04-none")

        # Messages: the words of each text, newest first; a failed text's fix.
        page.goto(server.url + "/messages")
        page.get_by_role("heading", name="Messages").wait_for()
        assert page.locator(".message-body").count() > 0
        fits()
        shot("messages-01-all")
        page.get_by_label("Status").select_option("failed")
        page.get_by_role("button", name="Filter").click()
        page.wait_for_url("**status=failed**")
        fix = page.get_by_role("link", name="The number cannot take texts: correct the mobile number")
        assert fix.count() == 1
        shot("messages-02-failed")
        fix.click()
        page.wait_for_url(f"**/patients/{ids['MRN100202']}/edit")

        # Filtered by kind, then one patient's texts.
        page.goto(server.url + "/messages")
        page.get_by_label("Kind of text").select_option("enrolment")
        page.get_by_role("button", name="Filter").click()
        page.wait_for_url("**kind=enrolment**")
        assert page.locator("tbody tr").count() == len(PEOPLE)
        page.locator("tbody tr").filter(has_text="Ruiz, Ana").filter(has_not_text="Gómez") \
            .get_by_role("link", name="Only this patient's texts").click()
        page.wait_for_url(f"**patient_id={ids['MRN100200']}**")
        assert page.locator("tbody tr").count() == 1
        page.get_by_role("link", name="Show every patient").wait_for()
        fits()
        shot("messages-03-one-patient")
