"""The patient's printable hold plan in a real browser (Playwright on Debian's Chromium; skips without).

Screenshots go to ``test-output/screenshots/`` and, when it exists, ``/work/wt/shots/`` (texts-*.png).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pathway import migrate
from pathway.app import create_app
from pathway.clock import FixedClock
from pathway.config import load_config
from pathway.runtime import Runtime
from pathway.services import episodes as ep
from pathway.services import patients as pt
from pathway.services.base import SYSTEM, Actor
from pathway.services.users import create_user
from tests.conftest import T0
from tests.web.test_browser import ARGS, CHROMIUM, PASSWORD, SHOTS, Server, _playwright

pytestmark = pytest.mark.browser
EXTRA_SHOTS = Path("/work/wt/shots")


@pytest.fixture
def seeded(fresh_db: Any) -> Iterator[tuple[Server, dict[str, int]]]:
    _playwright()
    clock = FixedClock(T0)
    config = load_config(env={}, overrides={"database": {"url": fresh_db.url}, "sms": {"backend": "console"},
                                            "clinic": {"name": "Riverside Spine & Pain"}})
    migrate.upgrade(fresh_db.url)
    runtime = Runtime.build(config, clock=clock)
    ids: dict[str, int] = {}
    with runtime.unit_of_work() as (session, env):
        coordinator = create_user(session, env, SYSTEM, "coordinator@browser.test", "coordinator", PASSWORD, "Casey")
        clinician = create_user(session, env, SYSTEM, "clinician@browser.test", "clinician", PASSWORD, "Dr. Lee")
        session.flush()
        for lang, mrn in (("en", "MRN-8001"), ("es", "MRN-8002")):
            patient = pt.enrol_patient(session, env, Actor.for_user(coordinator), {
                "mrn": mrn, "given_name": "Ana", "family_name": "Ruiz", "birth_date": "1948-06-02",
                "phone": "(312) 555-0142" if lang == "en" else "(312) 555-0143", "timezone": "America/Chicago",
                "language": lang, "sms_consent": True, "consent_method": "verbal"})
            episode = ep.schedule_episode(session, env, Actor.for_user(coordinator), patient.id, {
                "procedure_at": "2027-03-10T08:00", "facility": "Riverside Surgery Center",
                "holds": [{"drug": "apixaban"}, {"drug": "clopidogrel", "patient_label": "Plavix"},
                          {"drug": "naproxen"}]})
            for hold in episode.holds[:2]:
                ep.record_clearance(session, env, Actor.for_user(clinician), hold.id,
                                    {"status": "approved", "by": "Dr. Ortiz"})
            ids[lang] = episode.id
    app = create_app(runtime=runtime, SECRET_KEY="browser-test-secret")
    server = Server(app)
    try:
        yield server, ids
    finally:
        server.stop()
        runtime.engine.dispose()


def test_the_printable_hold_plan_fits_one_page_in_each_language(seeded: Any) -> None:
    server, ids = seeded
    sync_playwright = _playwright()
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})

        def shot(name: str) -> None:
            page.screenshot(path=str(SHOTS / f"texts-{name}.png"), full_page=True)
            if EXTRA_SHOTS.is_dir():
                page.screenshot(path=str(EXTRA_SHOTS / f"texts-{name}.png"), full_page=True)

        try:
            page.goto(server.url + "/login")
            page.get_by_label("Email").fill("coordinator@browser.test")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(server.url + "/")

            page.goto(f"{server.url}/episodes/{ids['en']}")
            page.get_by_role("heading", name="Texts to the patient").wait_for()
            assert page.get_by_text("Take your last dose of your blood thinner on").first.is_visible()
            page.locator("#texts").screenshot(path=str(SHOTS / "texts-episode-texts.png"))
            if EXTRA_SHOTS.is_dir():
                page.locator("#texts").screenshot(path=str(EXTRA_SHOTS / "texts-episode-texts.png"))
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
        finally:
            browser.close()
