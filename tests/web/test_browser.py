"""The staff pages in a real browser: Playwright (sync API) driving Debian's Chromium.

The server is the real ``create_app`` over a freshly migrated database, served by werkzeug in a
background thread on 127.0.0.1, with the console SMS backend and a FixedClock the test moves.
Each page visited is saved as a full-page screenshot under ``test-output/screenshots/``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pathway import migrate
from pathway.app import create_app
from pathway.clock import FixedClock
from pathway.config import load_config
from pathway.runtime import Runtime
from pathway.services.base import SYSTEM
from pathway.services.users import create_user
from tests.conftest import T0
from tests.web.loopback import LoopbackServer

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
PASSWORD = "correct horse battery"


def _playwright() -> Any:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright (Python) is not installed: pip install playwright")
    return sync_playwright


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright (the test skips without either), closed however it ends."""
    sync_playwright = _playwright()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


# The live app's server (kept under its old name for the browser test modules).
Server = LoopbackServer


def _sign_in(page: Any, email: str, *, at: str | None = None) -> None:
    """Fill the sign-in form (on ``at`` first, when given) and submit it."""
    if at is not None:
        page.goto(at)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def live(fresh_db: Any) -> Iterator[tuple[Server, FixedClock]]:
    sync_playwright = _playwright()
    del sync_playwright
    clock = FixedClock(T0)
    config = load_config(env={}, overrides={"database": {"url": fresh_db.url}, "sms": {"backend": "console"},
                                            "clinic": {"name": "Riverside Spine & Pain"}})
    migrate.upgrade(fresh_db.url)
    runtime = Runtime.build(config, clock=clock)
    with runtime.unit_of_work() as (session, env):
        for role, name in (("coordinator", "Casey Coordinator"), ("clinician", "Dr. Morgan Lee"),
                           ("admin", "Alex Admin")):
            create_user(session, env, SYSTEM, f"{role}@browser.test", role, PASSWORD, name)
    app = create_app(runtime=runtime, SECRET_KEY="browser-test-secret")
    server = Server(app)
    server.runtime = runtime  # type: ignore[attr-defined]  # for tests that seed records directly
    try:
        yield server, clock
    finally:
        server.stop()
        runtime.engine.dispose()


def test_coordinator_and_clinician_take_a_patient_through_scheduling_approval_and_rescheduling(live: Any) -> None:
    server, clock = live
    SHOTS.mkdir(parents=True, exist_ok=True)

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def shot(step: str) -> None:
            page.screenshot(path=str(SHOTS / f"{step}.png"), full_page=True)

        def login(email: str) -> None:
            _sign_in(page, email, at=server.url + "/login")

        def move_clock(when: Any, email: str, url: str) -> None:
            """Move the clock; the idle session has expired by then, so sign in again."""
            clock.set(when)
            page.goto(url)
            page.wait_for_url("**/login**")
            _sign_in(page, email)
            page.wait_for_url(url)

        def logout() -> None:
            page.get_by_role("button", name="Sign out").click()
            page.wait_for_url("**/login")

        page.goto(server.url + "/")
        page.wait_for_url("**/login**")
        shot("01-login")

        # A coordinator signs in: the worklist is the home page, empty for now.
        login("coordinator@browser.test")
        page.wait_for_url(server.url + "/")
        assert page.get_by_role("heading", name="Worklist").is_visible()
        assert page.get_by_text("Nothing needs you right now").is_visible()
        shot("02-worklist-empty")

        # Enrol a patient; a bad phone is refused field by field first.
        page.get_by_role("link", name="Enrol a patient").first.click()
        page.get_by_label("Given name").fill("Ana")
        page.get_by_label("Family name").fill("Ruiz")
        page.get_by_label("Date of birth").fill("1948-06-02")
        page.get_by_label("MRN").fill("MRN-7001")
        page.get_by_label("Mobile phone").fill("555")
        page.get_by_label("Patient's time zone").select_option("America/Chicago")
        page.get_by_label("The patient agrees to receive texts about their care").check()
        page.get_by_role("button", name="Enrol patient").click()
        assert page.locator("#f-phone-error").is_visible()
        shot("03-enrol-errors")
        page.get_by_label("Mobile phone").fill("(312) 555-0142")
        page.get_by_role("button", name="Enrol patient").click()
        page.get_by_role("heading", name="Ruiz, Ana").wait_for()
        shot("04-patient")

        # Schedule an episode with a clopidogrel hold.
        page.get_by_role("link", name="Schedule an episode").click()
        page.get_by_label("Procedure date and time").fill("2027-03-10T08:00")
        page.get_by_label("Levels").fill("L4-L5")
        page.get_by_label("Facility", exact=True).fill("Riverside Surgery Center")
        page.get_by_label("Facility address line").fill("1200 N Main St")
        page.get_by_label("Arrival time").fill("2027-03-10T06:45")
        page.get_by_label("Proceduralist").fill("Dr. Morgan Lee")
        page.get_by_label("Physical therapy").check()
        page.get_by_label("Medication").check()
        page.get_by_label("Drug", exact=True).first.select_option("clopidogrel")
        page.locator("#f-hold-0-prescriber_name").fill("Dr. Alan Ortiz")
        page.locator("#f-hold-0-prescriber_phone").fill("(212) 555-0199")
        shot("05-schedule-form")
        page.get_by_role("button", name="Schedule episode").click()
        page.get_by_role("heading", name="Timeline").wait_for()
        assert page.get_by_text("clopidogrel: 7 days before").first.is_visible()
        assert "Riverside Surgery Center, 1200 N Main St" in page.locator("#arrival").inner_text()
        assert page.get_by_text("Arrive Wed Mar 10 by 6:45 AM at Riverside Surgery Center, 1200 N Main St. "
                                "Bring a driver.").is_visible()
        episode_url = page.url
        shot("06-episode-scheduled")

        # Three weeks on, the last dose is a week away: the unresolved hold is on the worklist.
        move_clock(T0 + timedelta(days=23), "coordinator@browser.test", server.url + "/")
        page.get_by_text("Hold clearance not requested").wait_for()
        assert page.get_by_role("link", name="Ruiz, Ana").first.is_visible()
        shot("07-worklist-hold")
        page.get_by_role("link", name="Request clearance").first.click()
        page.get_by_role("button", name="Save clearance for Clopidogrel").click()
        page.get_by_text("Clearance request recorded.").wait_for()
        logout()

        # A clinician approves and signs the hold.
        login("clinician@browser.test")
        page.wait_for_url("**/board")
        page.goto(episode_url)
        page.get_by_label("Answer", exact=True).select_option("approved")
        shot("08-clinician-approve")
        page.get_by_role("button", name="Save clearance for Clopidogrel").click()
        page.get_by_text("Hold approved and signed").wait_for()
        shot("09-episode-approved")
        page.goto(server.url + "/")
        page.get_by_text("Nothing needs you right now").wait_for()

        # Reschedule: the diff is shown, then confirmed.
        page.goto(episode_url)
        page.get_by_role("link", name="Reschedule").click()
        page.get_by_label("New date and time").fill("2027-03-17T09:30")
        shot("10-reschedule")
        page.get_by_role("button", name="Preview changes").click()
        page.get_by_role("heading", name="Confirm the new procedure date").wait_for()
        assert page.locator(".diff-list li").count() > 0
        assert page.get_by_text("Move").first.is_visible()
        shot("11-reschedule-preview")
        page.get_by_role("button", name="Confirm and re-plan").click()
        page.locator(".alert-success").get_by_text("Procedure moved.").wait_for()
        assert page.get_by_text("Wed 17 Mar 2027").first.is_visible()
        shot("12-episode-rescheduled")

        # After the procedure: the board shows the 72-hour check and the unbooked visit.
        page.goto(server.url + "/board")
        assert page.get_by_role("link", name="Ruiz, Ana").is_visible()
        shot("13-board-before")
        move_clock(T0 + timedelta(days=44, hours=2), "clinician@browser.test", episode_url)  # after it
        page.get_by_label("Procedure ended at").fill("2027-03-17T10:20")
        page.get_by_role("button", name="Record end").click()
        page.locator(".alert-success").get_by_text("Procedure end recorded").wait_for()
        move_clock(T0 + timedelta(days=50, hours=3), "clinician@browser.test", server.url + "/board")  # day 6
        assert page.locator(".board-table").get_by_text("Overdue").first.is_visible()
        shot("14-board-overdue")
        page.goto(server.url + "/")
        page.get_by_text("Follow-up visit not booked").wait_for()
        shot("15-worklist-follow-up")

        # Book the visit in its window: the board shows it booked in window.
        page.get_by_role("link", name="Book follow-up").click()
        page.locator("#book-follow_up-at").fill("2027-03-25T10:00")
        page.get_by_role("button", name="Book Clinic follow-up visit").click()
        page.locator(".alert-success").get_by_text("Follow-up visit booked.").wait_for()
        page.goto(server.url + "/board?status=in_window")
        assert page.get_by_role("link", name="Ruiz, Ana").is_visible()
        shot("16-board-in-window")

        page.goto(server.url + "/messages")
        shot("17-messages")
        page.set_viewport_size({"width": 820, "height": 1180})  # a tablet, portrait
        page.goto(episode_url)
        shot("17b-episode-tablet")
        page.keyboard.press("Tab")  # the skip link is the first stop
        assert page.evaluate("document.activeElement.textContent").strip() == "Skip to main content"
        page.set_viewport_size({"width": 1280, "height": 900})
        logout()

        # An admin sees user admin only.
        login("admin@browser.test")
        page.wait_for_url("**/admin/users")
        shot("18-admin-users")
        page.goto(episode_url)
        assert page.get_by_role("heading", name="Not allowed for your role").is_visible()


# Screenshots of the go / no go banner and the holds to sign, for people to look at.
GONOGO_SHOTS = Path(os.environ.get("PATHWAY_GONOGO_SHOTS", str(SHOTS)))


def test_the_go_no_go_banner_and_the_holds_to_sign_list(live: Any) -> None:
    server, clock = live
    GONOGO_SHOTS.mkdir(parents=True, exist_ok=True)

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def shot(step: str) -> None:
            page.screenshot(path=str(GONOGO_SHOTS / f"gonogo-{step}.png"), full_page=True)

        def login(email: str) -> None:
            _sign_in(page, email, at=server.url + "/login")

        def schedule(mrn: str, given: str, drug: str, when: str, *, ready: bool) -> str:
            page.goto(server.url + "/patients/new")
            page.get_by_label("Given name").fill(given)
            page.get_by_label("Family name").fill("Okafor")
            page.get_by_label("Date of birth").fill("1950-01-02")
            page.get_by_label("MRN").fill(mrn)
            page.get_by_label("Mobile phone").fill("(312) 555-0143")
            page.get_by_label("The patient agrees to receive texts about their care").check()
            page.get_by_role("button", name="Enrol patient").click()
            page.get_by_role("link", name="Schedule an episode").click()
            page.get_by_label("Procedure date and time").fill(when)
            page.get_by_label("Proceduralist").fill("Dr. Morgan Lee")
            if ready:
                page.get_by_label("Lumbar MRI reviewed on").fill("2027-01-15")
                page.get_by_label("Physical therapy").check()
                page.get_by_label("Escort / driver arranged for procedure day").check()
            page.get_by_label("Drug", exact=True).first.select_option(drug)
            page.locator("#f-hold-0-prescriber_name").fill("Dr. Alan Ortiz")
            page.get_by_role("button", name="Schedule episode").click()
            page.get_by_role("heading", name="Timeline").wait_for()
            return str(page.url)

        login("coordinator@browser.test")
        page.wait_for_url(server.url + "/")
        first = schedule("MRN-8001", "Grace", "clopidogrel", "2027-03-10T08:00", ready=False)
        banner = page.get_by_role("region", name="No go")
        assert banner.is_visible()
        assert banner.get_by_text("Clopidogrel: clearance not yet requested from the prescriber.").is_visible()
        assert banner.get_by_text("Candidacy: the lumbar MRI review is not recorded.").is_visible()
        shot("01-no-go")
        page.get_by_role("button", name="Save clearance for Clopidogrel").click()
        page.get_by_text("Clearance request recorded.").wait_for()
        second = schedule("MRN-8002", "Hugo", "apixaban", "2027-02-20T08:00", ready=True)
        page.get_by_role("button", name="Save clearance for Apixaban").click()
        page.get_by_text("Clearance request recorded.").wait_for()
        page.get_by_role("button", name="Sign out").click()

        login("clinician@browser.test")
        page.wait_for_url("**/board")
        page.get_by_role("link", name="Holds to sign").click()
        page.get_by_role("heading", name="Holds to sign").wait_for()
        rows = page.locator("table.holds-to-sign tbody tr")
        assert rows.count() == 2
        assert "apixaban" in rows.nth(0).inner_text() and "clopidogrel" in rows.nth(1).inner_text()
        shot("02-holds-to-sign")
        rows.nth(0).get_by_role("link", name="Review and sign").click()
        page.wait_for_url(second + "#hold-*")
        page.get_by_label("Answer", exact=True).select_option("approved")
        page.get_by_role("button", name="Save clearance for Apixaban").click()
        page.get_by_text("Hold approved and signed").wait_for()
        assert page.get_by_role("region", name="Go", exact=True).is_visible()
        assert page.get_by_role("heading", name="Go", exact=True).is_visible()
        shot("03-go")
        page.goto(server.url + "/holds/to-sign")
        assert page.locator("table.holds-to-sign tbody tr").count() == 1

        # A cancelled episode says so, and never Go.
        page.goto(first)
        page.get_by_text("Cancel this episode").click()
        page.locator("#cancel-reason").fill("Patient postponed for a family event")
        for box in page.locator("form[action$='/cancel'] input[type=checkbox]").all():
            box.check()  # a confirmation, where the form asks for one
        page.get_by_role("button", name="Cancel episode").click()
        cancelled = page.get_by_role("region", name="Cancelled")
        cancelled.wait_for()
        assert cancelled.get_by_text("Patient postponed for a family event").is_visible()
        assert page.get_by_role("heading", name="Go", exact=True).count() == 0
        shot("04-cancelled")
    del clock


REPLAN_SHOTS = Path(os.environ.get("PATHWAY_REPLAN_SHOTS", str(SHOTS)))


def test_a_move_earlier_warns_about_the_signed_hold_and_cancel_needs_a_reason(live: Any) -> None:
    """The move-earlier warning on the preview page, then cancelling with a reason and a confirmation."""
    from pathway.services import episodes as ep
    from pathway.services.base import Actor
    from pathway.services.patients import enrol_patient

    server, _clock = live
    REPLAN_SHOTS.mkdir(parents=True, exist_ok=True)
    with server.runtime.unit_of_work() as (session, env):
        coordinator = Actor(role="coordinator", user_id=1, label="user:1")
        clinician = Actor(role="clinician", user_id=2, label="user:2")
        patient = enrol_patient(session, env, coordinator, {
            "mrn": "MRN-8001", "given_name": "Rosa", "family_name": "Vega", "birth_date": "1947-01-09",
            "phone": "+1 212 555 0142", "timezone": "America/New_York", "language": "es", "sms_consent": True})
        episode = ep.schedule_episode(session, env, coordinator, patient.id, {
            "procedure_at": "2027-03-10T08:00", "facility": "Riverside Surgery Center", "proceduralist": "Dr. Lee",
            "levels": "L4-L5", "holds": [{"drug": "clopidogrel", "prescriber_name": "Dr. Ortiz"}]})
        ep.record_clearance(session, env, clinician, episode.holds[0].id, {"status": "approved", "by": "Dr. Ortiz"})
        episode_id = episode.id

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        _sign_in(page, "coordinator@browser.test", at=server.url + "/login")
        page.wait_for_url(server.url + "/")

        page.goto(f"{server.url}/episodes/{episode_id}/reschedule")
        page.locator("input[name=procedure_at]").fill("2027-03-05T08:00")
        page.locator("form button[type=submit]").last.click()
        warning = page.locator(".holds-at-risk")
        warning.wait_for()
        assert "This move breaks 1 signed hold plan" in warning.inner_text()
        assert "clopidogrel" in warning.inner_text()
        page.screenshot(path=str(REPLAN_SHOTS / "replan-01-move-earlier-warning.png"), full_page=True)
        # Confirming without ticking the box is refused on the same page.
        page.get_by_role("button", name="Confirm and re-plan").click()
        page.get_by_text("Tick the box to confirm").wait_for()
        page.screenshot(path=str(REPLAN_SHOTS / "replan-02-move-needs-the-tick.png"), full_page=True)
        page.get_by_label("I understand: these holds must be answered and signed again").check()
        page.get_by_role("button", name="Confirm and re-plan").click()
        page.wait_for_url(f"**/episodes/{episode_id}")
        page.screenshot(path=str(REPLAN_SHOTS / "replan-03-moved-hold-unsigned.png"), full_page=True)

        page.goto(server.url + "/")
        assert page.get_by_text("Hold needs signing again: clopidogrel", exact=True).is_visible()
        page.screenshot(path=str(REPLAN_SHOTS / "replan-04-worklist-hold-at-risk.png"), full_page=True)

        page.goto(f"{server.url}/episodes/{episode_id}")
        page.get_by_text("Cancel this episode").click()
        page.get_by_label("Reason (kept in the record, not texted)").fill("Patient unwell")
        page.get_by_role("button", name="Cancel episode").click()
        page.get_by_text("tick the box to confirm the cancellation").wait_for()
        page.screenshot(path=str(REPLAN_SHOTS / "replan-05-cancel-needs-confirmation.png"), full_page=True)
        page.get_by_label("I confirm this procedure is cancelled").check()
        page.get_by_role("button", name="Cancel episode").click()
        page.get_by_text("Episode cancelled").first.wait_for()
        page.screenshot(path=str(REPLAN_SHOTS / "replan-06-cancelled.png"), full_page=True)


@pytest.fixture
def seeded(live: Any) -> tuple[Server, dict[str, int]]:
    """The live app with one episode per language: three holds, two of them signed."""
    from pathway.services import episodes as ep
    from pathway.services import patients as pt
    from pathway.services.base import Actor

    server, _clock = live
    ids: dict[str, int] = {}
    with server.runtime.unit_of_work() as (session, env):
        coordinator = Actor(role="coordinator", user_id=1, label="user:1")
        clinician = Actor(role="clinician", user_id=2, label="user:2")
        for lang, mrn in (("en", "MRN-8101"), ("es", "MRN-8102")):
            patient = pt.enrol_patient(session, env, coordinator, {
                "mrn": mrn, "given_name": "Ana", "family_name": "Ruiz", "birth_date": "1948-06-02",
                "phone": "(312) 555-0142" if lang == "en" else "(312) 555-0143", "timezone": "America/Chicago",
                "language": lang, "sms_consent": True, "consent_method": "verbal"})
            episode = ep.schedule_episode(session, env, coordinator, patient.id, {
                "procedure_at": "2027-03-10T08:00", "facility": "Riverside Surgery Center",
                "holds": [{"drug": "apixaban"}, {"drug": "clopidogrel", "patient_label": "Plavix"},
                          {"drug": "naproxen"}]})
            for hold in episode.holds[:2]:
                ep.record_clearance(session, env, clinician, hold.id, {"status": "approved", "by": "Dr. Ortiz"})
            ids[lang] = episode.id
    return server, ids


def test_the_printable_hold_plan_fits_one_page_in_each_language(seeded: Any) -> None:
    server, ids = seeded
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1100, "height": 900})

        def shot(name: str) -> None:
            page.screenshot(path=str(SHOTS / f"texts-{name}.png"), full_page=True)

        _sign_in(page, "coordinator@browser.test", at=server.url + "/login")
        page.wait_for_url(server.url + "/")

        page.goto(f"{server.url}/episodes/{ids['en']}")
        page.get_by_role("heading", name="Every text, planned and sent").wait_for()
        assert page.get_by_text("Take the last dose of your blood thinner on").first.is_visible()
        page.locator("#texts").screenshot(path=str(SHOTS / "texts-episode-texts.png"))
        with page.expect_popup() as popup:
            page.get_by_role("link", name="Print the patient's hold plan").click()
        plan = popup.value
        plan.wait_for_load_state()
        page = plan
        assert page.get_by_role("heading", name="Your medicine plan for your procedure").is_visible()
        assert page.get_by_text("Plavix").first.is_visible()
        assert page.get_by_text("Keep taking it until we call or text you").is_visible()
        shot("hold-plan-en")
        assert b"/Count 1" in page.pdf(format="Letter")  # one printed page

        page.goto(f"{server.url}/episodes/{ids['es']}/hold-plan")
        assert page.get_by_role("heading", name="Plan de sus medicamentos para su procedimiento").is_visible()
        assert page.get_by_text("a cualquier hora de ese día").first.is_visible()
        shot("hold-plan-es")
        page.emulate_media(media="print")
        shot("hold-plan-es-print")
        assert b"/Count 1" in page.pdf(format="Letter")


# --- editing an episode after saving (issue 10) ------------------------------------------------

EDIT_SHOTS = Path(os.environ.get("PATHWAY_EDIT_SHOTS", str(SHOTS)))


def test_a_coordinator_edits_details_adds_a_hold_and_removes_holds_with_the_stopped_warning(live: Any) -> None:
    from datetime import UTC, datetime

    from pathway.services import episodes as ep
    from pathway.services import patients as pt
    from pathway.services.base import Actor

    server, clock = live
    with server.runtime.unit_of_work() as (session, env):
        coordinator = Actor(role="coordinator", user_id=1, label="user:1")
        patient = pt.enrol_patient(session, env, coordinator, {
            "mrn": "MRN-8202", "given_name": "Rosa", "family_name": "Diaz", "birth_date": "1949-05-05",
            "phone": "(312) 555-0144", "timezone": "America/Chicago", "language": "en", "sms_consent": True,
            "consent_method": "verbal"})
        episode = ep.schedule_episode(session, env, coordinator, patient.id, {
            "procedure_at": "2027-03-10T08:00", "facility": "Riverside Surgery Center", "proceduralist": "Dr. Lee",
            "holds": [{"drug": "clopidogrel", "prescriber_name": "Dr. Ortiz"}]})
        ep.record_clearance(session, env, Actor(role="clinician", user_id=2, label="user:2"), episode.holds[0].id,
                            {"status": "approved", "by": "Dr. Ortiz"})
        episode_url = f"{server.url}/episodes/{episode.id}"
    EDIT_SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def shot(step: str) -> None:
            page.screenshot(path=str(EDIT_SHOTS / f"edit-{step}.png"), full_page=True)

        _sign_in(page, "coordinator@browser.test", at=server.url + "/login")
        page.wait_for_url(server.url + "/")
        page.goto(episode_url)

        # Details and candidacy: the facility's name is in the day-before text, so the change is
        # shown first (this name tells what the visit is for: the text leaves it out); the go /
        # no go follows.
        page.get_by_text("Edit details").click()
        page.get_by_label("Facility", exact=True).fill("Northside Spine Center")
        page.get_by_label("Lumbar MRI reviewed on").fill("2027-01-15")
        page.get_by_label("Tried physical therapy").check()
        page.get_by_label("Escort or driver arranged").check()
        shot("01-details-form")
        page.get_by_role("button", name="Save details").click()
        page.get_by_role("button", name="Confirm and re-plan").click()
        page.get_by_text("Details saved").wait_for()
        assert page.get_by_role("region", name="Go", exact=True).is_visible()
        assert page.get_by_text("Northside Spine Center").first.is_visible()
        shot("02-details-saved-go")

        # Add a medicine to hold: the confirm step shows the clopidogrel text's new words.
        page.get_by_text("Add a medicine to hold").click()
        page.locator("#f-hold-0-drug").select_option("aspirin-secondary")
        page.locator("#f-hold-0-prescriber_name").fill("Dr. Alan Ortiz")
        page.locator("#add-hold").screenshot(path=str(EDIT_SHOTS / "edit-03a-add-hold-form.png"))
        page.get_by_role("button", name="Review and add").click()
        page.get_by_role("heading", name="Add aspirin (secondary prevention) to the holds").wait_for()
        shot("03-add-hold-preview")
        page.get_by_role("button", name="Add the hold").click()
        page.get_by_text("Medicine added to hold.").wait_for()
        assert page.get_by_role("region", name="No go").get_by_text(
            "clearance not yet requested from the prescriber").is_visible()
        shot("04-hold-added")

        # Remove it again: what happens is said first.
        page.get_by_role("link", name="Remove the aspirin (secondary prevention) hold").click()
        page.get_by_role("heading", name="Remove the aspirin (secondary prevention) hold").wait_for()
        shot("05-remove-confirm")
        page.get_by_role("button", name="Remove the hold").click()
        page.get_by_text("Hold removed; its texts are cancelled.").wait_for()
        assert page.get_by_role("region", name="Go", exact=True).is_visible()

        # After clopidogrel's last dose the patient may have stopped: removing it warns and asks.
        clock.set(datetime(2027, 3, 3, 16, 0, tzinfo=UTC))
        page.goto(episode_url)
        if "/login" in page.url:
            _sign_in(page, "coordinator@browser.test")
            page.wait_for_url(episode_url)
        page.get_by_role("link", name="Remove the clopidogrel hold").click()
        page.get_by_text("The patient may have stopped this medicine").wait_for()
        page.get_by_role("button", name="Remove the hold").click()
        page.get_by_text("Tick the box").wait_for()
        shot("06-remove-stopped-needs-tick")
        page.get_by_label("I understand: someone must call the patient about restarting this medicine").check()
        page.get_by_role("button", name="Remove the hold").click()
        page.get_by_text("A call to the patient about restarting is on the worklist.").wait_for()
        shot("07-removed-stopped")
        page.goto(server.url + "/")
        call = "Hold removed after its last dose: call about restarting clopidogrel"
        page.get_by_text(call, exact=True).wait_for()
        shot("08-worklist-call")
        page.get_by_label("The call: whom you reached and what they were told").fill(
            "Reached Rosa: restart clopidogrel as Dr. Ortiz advises")
        page.get_by_role("button", name="Done").click()
        page.get_by_text("Task marked as done.").wait_for()
        shot("09-worklist-call-recorded")


# --- patient edits (issue 10, "Editing after saving": the patient half) ----------------------


def test_a_coordinator_edits_a_patients_zone_and_language_and_confirms_the_texts_it_changes(live: Any) -> None:
    from pathway.services import episodes as ep
    from pathway.services import patients as pt
    from pathway.services.base import Actor
    from tests.web.sms_words import template_words

    server, _clock = live
    with server.runtime.unit_of_work() as (session, env):
        coordinator = Actor(role="coordinator", user_id=1, label="user:1")
        patient = pt.enrol_patient(session, env, coordinator, {
            "mrn": "MRN-8201", "given_name": "Rosa", "family_name": "Vega", "birth_date": "1947-01-09",
            "phone": "(212) 555-0150", "timezone": "America/New_York", "language": "en", "sms_consent": True})
        ep.schedule_episode(session, env, coordinator, patient.id, {
            "procedure_at": "2027-03-10T08:00", "facility": "Riverside Surgery Center"})
        pid = patient.id
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def shot(name: str) -> None:
            page.screenshot(path=str(SHOTS / f"patient-edit-{name}.png"), full_page=True)

        _sign_in(page, "coordinator@browser.test", at=server.url + "/login")
        page.wait_for_url(server.url + "/")
        page.goto(f"{server.url}/patients/{pid}")
        page.get_by_role("link", name="Edit").click()
        page.wait_for_url(f"{server.url}/patients/{pid}/edit")
        assert page.get_by_label("Family name").input_value() == "Vega"
        assert page.get_by_label("Mobile phone").input_value() == "(212) 555-0150"

        # A bad number is refused on the form, nothing saved.
        page.get_by_label("Mobile phone").fill("555")
        page.get_by_role("button", name="Review and save").click()
        assert page.get_by_text("not a valid US mobile number: 555").first.is_visible()
        shot("1-error")

        # The patient moved to Chicago and prefers Spanish: the texts are shown before anything changes.
        page.get_by_label("Mobile phone").fill("(212) 555-0150")
        page.get_by_label("Patient's time zone").select_option("America/Chicago")
        page.get_by_label("Language of texts").select_option("es")
        page.get_by_role("button", name="Review and save").click()
        page.get_by_role("heading", name="Confirm the changes to Vega, Rosa").wait_for()
        assert page.get_by_text("Nothing has changed yet").is_visible()
        rows = page.locator("tr.text-change")
        assert rows.count() >= 2
        pre = rows.filter(has_text="Tue 9 Mar 2027, 10:00 CST")
        assert pre.count() == 1 and "Tue 9 Mar 2027, 10:00 EST" in pre.inner_text()
        assert template_words("pre_procedure", "es") in pre.inner_text()
        shot("2-preview")

        page.get_by_role("button", name="Confirm and save").click()
        page.wait_for_url(f"{server.url}/patients/{pid}")
        saved = "Saved: Time zone, language of texts. 3 texts changed (time or words)."
        assert page.get_by_text(saved).is_visible()
        assert page.get_by_text("America/Chicago · Spanish texts").is_visible()
        shot("3-saved")


SAFETY_SHOTS = Path(os.environ.get("PATHWAY_SAFETY_SHOTS", str(SHOTS)))


def test_a_postponement_after_a_stop_and_a_zone_change_that_moves_a_signed_day_warn_before_saving(
        live: Any) -> None:
    """The two confirms a person must see: the patient may have stopped (a restart call follows),
    and a new zone that makes a signed last-dose day another day (the hold is signed again)."""
    from pathway.services import episodes as ep
    from pathway.services.base import Actor
    from pathway.services.patients import enrol_patient

    server, clock = live
    SAFETY_SHOTS.mkdir(parents=True, exist_ok=True)
    with server.runtime.unit_of_work() as (session, env):
        coordinator = Actor(role="coordinator", user_id=1, label="user:1")
        clinician = Actor(role="clinician", user_id=2, label="user:2")
        ids = []
        for mrn, zone in (("MRN-8101", "America/New_York"), ("MRN-8102", "Pacific/Guam")):
            patient = enrol_patient(session, env, coordinator, {
                "mrn": mrn, "given_name": "Rosa", "family_name": "Vega", "birth_date": "1947-01-09",
                "phone": "+1 212 555 0142", "timezone": zone, "language": "en", "sms_consent": True})
            episode = ep.schedule_episode(session, env, coordinator, patient.id, {
                "procedure_at": "2027-03-10T08:00", "facility": "Riverside Surgery Center",
                "proceduralist": "Dr. Lee", "levels": "L4-L5",
                "holds": [{"drug": "clopidogrel", "prescriber_name": "Dr. Ortiz"}]})
            ep.record_clearance(session, env, clinician, episode.holds[0].id, {"status": "approved", "by": "Dr. Ortiz"})
            ids.append((patient.id, episode.id))
    clock.set(datetime(2027, 3, 4, 15, 0, tzinfo=UTC))  # after clopidogrel's last dose (Tue 2 Mar)
    (_, postponed), (guam, _) = ids

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        _sign_in(page, "coordinator@browser.test", at=server.url + "/login")
        page.wait_for_url(server.url + "/")
        page.goto(f"{server.url}/episodes/{postponed}/reschedule")
        page.locator("input[name=procedure_at]").fill("2027-03-31T08:00")
        page.locator("form button[type=submit]").last.click()
        warning = page.locator(".holds-stopped")
        warning.wait_for()
        assert "may already have stopped 1 medicine" in warning.inner_text()
        page.screenshot(path=str(SAFETY_SHOTS / "safety-01-postpone-after-stop.png"), full_page=True)
        page.get_by_label("I understand: the patient must be called about restarting").check()
        page.get_by_role("button", name="Confirm and re-plan").click()
        page.wait_for_url(f"**/episodes/{postponed}")
        page.goto(server.url + "/")
        call = "Postponed after a stop: call about restarting clopidogrel"
        assert page.get_by_text(call, exact=True).is_visible()
        page.screenshot(path=str(SAFETY_SHOTS / "safety-02-worklist-restart-call.png"), full_page=True)

        page.goto(f"{server.url}/patients/{guam}/edit")
        page.locator("select[name=timezone]").select_option("America/New_York")
        page.locator("form button[type=submit]").last.click()
        warning = page.locator(".holds-at-risk")
        warning.wait_for()
        assert "The new time zone changes 1 signed hold plan" in warning.inner_text()
        page.get_by_role("button", name="Confirm and save").click()
        page.get_by_text("Tick the box to confirm").wait_for()
        page.screenshot(path=str(SAFETY_SHOTS / "safety-03-zone-change-needs-the-tick.png"), full_page=True)
        page.get_by_label("I understand: these holds must be answered and signed again").check()
        page.get_by_role("button", name="Confirm and save").click()
        page.wait_for_url(f"**/patients/{guam}")


def test_a_coordinator_sets_the_arrival_time_and_address_line_and_sees_the_day_before_text(live: Any) -> None:
    """Issue 11: the day-before text's arrival and place, set on the episode page; a revealing
    address line is refused naming the field; the new words are shown before they are saved."""
    from pathway.services import episodes as ep
    from pathway.services import patients as pt
    from pathway.services.base import Actor

    server, _clock = live
    with server.runtime.unit_of_work() as (session, env):
        coordinator = Actor(role="coordinator", user_id=1, label="user:1")
        patient = pt.enrol_patient(session, env, coordinator, {
            "mrn": "MRN-8311", "given_name": "Ana", "family_name": "Reyes", "birth_date": "1948-02-02",
            "phone": "(312) 555-0177", "timezone": "America/New_York", "language": "en", "sms_consent": True,
            "consent_method": "verbal"})
        # Monday 15 March 2027, the day after the clocks go forward in New York.
        episode = ep.schedule_episode(session, env, coordinator, patient.id, {
            "procedure_at": "2027-03-15T08:00", "facility": "Riverside Surgery Center", "proceduralist": "Dr. Lee"})
        episode_url = f"{server.url}/episodes/{episode.id}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def shot(step: str) -> None:
            page.screenshot(path=str(SHOTS / f"arrival-{step}.png"), full_page=True)

        _sign_in(page, "coordinator@browser.test", at=server.url + "/login")
        page.wait_for_url(server.url + "/")
        page.goto(episode_url)
        arrival = page.locator("#arrival")
        assert "(usual time before the procedure)" in arrival.inner_text()
        assert "Riverside Surgery Center" in arrival.inner_text()
        page.get_by_text("Edit details").click()
        page.get_by_label("Facility address line").fill("Spine wing, 1200 N Main St")
        page.get_by_label("Arrival time").fill("2027-03-15T06:30")
        shot("01-form")
        page.get_by_role("button", name="Save details").click()
        error = page.locator("#details-facility_address-error")
        error.wait_for()
        assert "tells whoever reads the patient's phone" in error.inner_text()
        shot("02-revealing-address-refused")
        # Beside the facility's name the address line has the rest of 40 characters (one segment).
        page.get_by_label("Facility address line").fill("1200 N Main St, Suite 300")
        page.get_by_label("Arrival time").fill("2027-03-15T06:30")
        page.get_by_role("button", name="Save details").click()
        error = page.locator("#details-facility_address-error")
        error.wait_for()
        assert "may take 40 characters together" in error.inner_text()
        shot("02b-address-too-long-beside-the-name")
        page.get_by_label("Facility address line").fill("1200 N Main St")
        page.get_by_label("Arrival time").fill("2027-03-15T06:30")
        page.get_by_role("button", name="Save details").click()
        page.get_by_role("button", name="Confirm and re-plan").wait_for()
        preview = page.content()
        assert "Arrive Mon Mar 15 by 6:30 AM at Riverside Surgery Center, 1200 N Main St. Bring a driver." \
            in preview
        shot("03-new-words-before-saving")
        page.get_by_role("button", name="Confirm and re-plan").click()
        page.get_by_text("Details saved").wait_for()
        assert "Riverside Surgery Center, 1200 N Main St" in page.locator("#arrival").inner_text()
        assert "(usual time" not in page.locator("#arrival").inner_text()
        shot("04-saved")
