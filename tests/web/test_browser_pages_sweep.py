"""Every staff page in a real browser at a desktop (1280 px) and a tablet (820 px) width: axe-core
finds no serious or critical accessibility violation, no table or board is cut (nothing scrolls
sideways), each page says in one line what it is for, and a screenshot of each is kept under
/tmp/shots/layout/ for people to look at.

One database, one app server and one browser serve the whole module; each role signs in once.
Adding a page is one line in PAGES.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pathway import migrate
from pathway.app import create_app
from pathway.clock import FixedClock
from pathway.config import load_config
from pathway.runtime import Runtime
from pathway.services import episodes as ep
from pathway.services.base import SYSTEM, Actor
from pathway.services.patients import enrol_patient
from pathway.services.replies import receive_reply
from pathway.services.users import create_token, create_user
from tests.conftest import T0, ScratchDatabase
from tests.conftest import test_database_url as database_url
from tests.web.axe import describe, violations
from tests.web.loopback import LoopbackServer
from tests.web.test_browser import PASSWORD, _playwright, _sign_in, chromium

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("PATHWAY_LAYOUT_SHOTS", "/tmp/shots/layout"))
WIDTHS = {"desktop": (1280, 900), "tablet": (820, 1180)}


def _preview_reschedule(page: Any) -> None:
    page.locator("input[name=procedure_at]").fill("2027-03-03T09:30")
    page.get_by_role("button", name="Preview changes").click()
    page.get_by_role("button", name="Confirm and re-plan").wait_for()


@dataclass(frozen=True)
class Visit:
    """One page to sweep: who looks at it, its address (``{patient}``, ``{episode}``, ``{reply}``
    filled from the seeded records) and, for a page reached by a form, what to do on arrival."""

    name: str
    role: str | None  # None: signed out
    path: str
    then: Callable[[Any], None] | None = None


PAGES = [
    Visit("worklist", "coordinator", "/"),
    Visit("patients", "coordinator", "/patients"),
    Visit("patient", "coordinator", "/patients/{patient}"),
    Visit("new-patient", "coordinator", "/patients/new"),
    Visit("new-episode", "coordinator", "/patients/{patient}/episodes/new"),
    Visit("episode", "coordinator", "/episodes/{episode}"),
    Visit("episode-clinician", "clinician", "/episodes/{episode}"),
    Visit("hold-plan", "coordinator", "/episodes/{episode}/hold-plan"),
    Visit("reschedule", "coordinator", "/episodes/{episode}/reschedule"),
    Visit("reschedule-preview", "coordinator", "/episodes/{episode}/reschedule", _preview_reschedule),
    Visit("holds-to-sign", "clinician", "/holds/to-sign"),
    Visit("board", "coordinator", "/board"),
    Visit("board-filtered", "coordinator", "/board?status=overdue"),
    Visit("board-empty", "coordinator", "/board?status=missed"),
    Visit("messages", "coordinator", "/messages"),
    Visit("reply", "coordinator", "/replies/{reply}"),
    Visit("import", "coordinator", "/patients/import"),
    Visit("admin-users", "admin", "/admin/users"),
    Visit("admin-tokens", "admin", "/admin/tokens"),
    Visit("login", None, "/login"),
    Visit("edit-patient", "coordinator", "/patients/{patient}/edit"),
]


class Site:
    def __init__(self, server: LoopbackServer, ids: dict[str, int]) -> None:
        self.server, self.ids = server, ids
        self.contexts: dict[str | None, Any] = {}


def _seed(runtime: Runtime, clock: FixedClock) -> dict[str, int]:
    """Two patients: one a week after her procedure (the board's states), one with a hold waiting
    to be signed before his; and a reply from a number that matches nobody."""
    coordinator = Actor(role="coordinator", user_id=1, label="user:1")
    with runtime.unit_of_work() as (session, env):
        for role, name in (("coordinator", "Casey Coordinator"), ("clinician", "Dr. Morgan Lee"),
                           ("admin", "Alex Admin")):
            create_user(session, env, SYSTEM, f"{role}@sweep.test", role, PASSWORD, name)
        session.flush()
        create_token(session, env, Actor(role="admin", user_id=3, label="user:3"), "coordinator@sweep.test",
                     "EHR nightly sync of the procedure schedule", 90)
        ana = enrol_patient(session, env, coordinator, {
            "mrn": "MRN-7001", "given_name": "Ana", "family_name": "Ruiz", "birth_date": "1948-06-02",
            "phone": "+1 312 555 0142", "timezone": "America/Chicago", "language": "es", "sms_consent": True,
            "consent_method": "verbal"})
        session.flush()
        ep.schedule_episode(session, env, coordinator, ana.id, {
            "procedure_at": "2027-02-03T08:00", "facility": "Riverside Surgery Center",
            "proceduralist": "Dr. Morgan Lee", "levels": "L4-L5", "pt_planned": True})
        hugo = enrol_patient(session, env, coordinator, {
            "mrn": "MRN-7002", "given_name": "Hugo", "family_name": "Okafor-Whitfield", "birth_date": "1950-01-02",
            "phone": "+1 212 555 0143", "timezone": "America/New_York", "language": "en", "sms_consent": True,
            "consent_method": "written"})
        session.flush()
        episode = ep.schedule_episode(session, env, coordinator, hugo.id, {
            "procedure_at": "2027-02-24T08:00", "facility": "Riverside Surgery Center",
            "facility_address": "1200 N Main St", "proceduralist": "Dr. Priya Raman", "levels": "L3-L4, L4-L5",
            "holds": [{"drug": "clopidogrel", "prescriber_name": "Dr. Alan Ortiz",
                       "prescriber_phone": "+1 212 555 0199"}]})
        session.flush()
        ep.record_clearance(session, env, coordinator, episode.holds[0].id, {"status": "requested"})
        ids = {"patient": hugo.id, "episode": episode.id}
    clock.set(T0 + timedelta(days=8))  # Ana's 72-hour check and visit are now overdue
    with runtime.unit_of_work() as (session, env):
        ids["reply"] = receive_reply(session, env, from_number="+13055550199", body="who is this? my back hurts",
                                     provider_id="SMsweep1").reply_id
    return ids


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    _playwright()  # skip before building anything when the browser is missing
    db = ScratchDatabase(database_url(), tmp_path_factory.mktemp("sweep"))
    clock = FixedClock(T0)
    config = load_config(env={}, overrides={"database": {"url": db.url}, "sms": {"backend": "console"},
                                            "clinic": {"name": "Riverside Spine & Pain"}})
    migrate.upgrade(db.url)
    runtime = Runtime.build(config, clock=clock)
    server = None
    try:
        ids = _seed(runtime, clock)
        server = LoopbackServer(create_app(runtime=runtime, SECRET_KEY="sweep-secret"))
        site = Site(server, ids)
        with chromium() as browser:
            site.browser = browser  # type: ignore[attr-defined]
            yield site
    finally:
        if server is not None:
            server.stop()
        runtime.engine.dispose()
        db.drop()


def _context(site: Site, role: str | None) -> Any:
    """A browser context per role, signed in once."""
    if role not in site.contexts:
        context = site.browser.new_context()  # type: ignore[attr-defined]
        if role is not None:
            page = context.new_page()
            _sign_in(page, f"{role}@sweep.test", at=site.server.url + "/login")
            page.wait_for_url(lambda url: "/login" not in url)
            page.close()
        site.contexts[role] = context
    return site.contexts[role]


# Does anything scroll sideways? The page itself, and each table inside its (responsive) box.
OVERFLOW = """() => {
  const out = [];
  const vw = document.documentElement.clientWidth;
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  if (document.documentElement.scrollWidth > vw) {
    const wide = [...document.body.querySelectorAll('*')].filter(el => el.getBoundingClientRect().right > vw + 1
      && ![...el.children].some(c => c.getBoundingClientRect().right > vw + 1));
    out.push(`page ${document.documentElement.scrollWidth}px > ${vw}px (${wide.slice(0, 3).map(name).join(', ')})`);
  }
  for (const t of document.querySelectorAll('table')) {
    const box = t.closest('.table-responsive') || t.parentElement;
    if (t.scrollWidth > box.clientWidth + 1) out.push(`${name(t)} ${t.scrollWidth}px > ${box.clientWidth}px`);
  }
  return out;
}"""


# The line under the page's heading that says what the page is for.
PURPOSE = """() => {
  const line = document.querySelector('.page-purpose') || document.querySelector('h1 + p');
  return line ? line.textContent.trim() : '';
}"""


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("visit", PAGES, ids=[v.name for v in PAGES])
def test_page_is_accessible_fits_the_width_and_says_what_it_is_for(site: Site, visit: Visit, width: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    px, height = WIDTHS[width]
    page = _context(site, visit.role).new_page()
    try:
        page.set_viewport_size({"width": px, "height": height})
        response = page.goto(site.server.url + visit.path.format(**site.ids))
        assert response is not None and response.status == 200, f"{visit.path}: {response and response.status}"
        if visit.then is not None:
            visit.then(page)
        page.screenshot(path=str(SHOTS / f"{visit.name}-{px}.png"), full_page=True)
        problems = []
        if found := violations(page):
            problems.append("axe-core, serious or critical:\n" + describe(found))
        if cut := page.evaluate(OVERFLOW):
            problems.append("scrolls sideways: " + "; ".join(cut))
        if not page.evaluate(PURPOSE):
            problems.append("no line under the heading (h1 + p, or .page-purpose) saying what the page is for")
        assert not problems, f"{visit.name} at {px} px:\n" + "\n".join(problems)
    finally:
        page.close()


@pytest.mark.parametrize("px", [768, 1024, 1440])
@pytest.mark.parametrize("path", ["/", "/board", "/messages", "/holds/to-sign", "/patients?q=o"])
def test_lists_fit_from_768_to_1440_px_without_cutting_a_column(site: Site, path: str, px: int) -> None:
    role = "clinician" if path == "/holds/to-sign" else "coordinator"
    page = _context(site, role).new_page()
    try:
        page.set_viewport_size({"width": px, "height": 1000})
        page.goto(site.server.url + path)
        slug = path.strip("/").split("?")[0].replace("/", "-") or "worklist"
        page.screenshot(path=str(SHOTS / f"fit-{slug}-{px}.png"))
        assert page.evaluate(OVERFLOW) == [], f"{path} at {px} px"
    finally:
        page.close()


@pytest.mark.parametrize("px", [820, 1024, 1280])
def test_the_episode_page_puts_the_next_action_at_the_top_on_a_tablet(site: Site, px: int) -> None:
    """Below 992 px the page is one column and go / no-go, the hold's clearance and the booking
    come before the timeline; from 992 px they are the right-hand column, level with it."""
    page = _context(site, "coordinator").new_page()
    try:
        page.set_viewport_size({"width": px, "height": 1180 if px < 1200 else 900})
        page.goto(site.server.url + f"/episodes/{site.ids['episode']}")
        top = {name: page.locator(sel).bounding_box() for name, sel in (
            ("gonogo", "#gonogo"), ("hold", ".hold-card"), ("booking", "#appointments"),
            ("timeline", "section[aria-labelledby=timeline-h]"), ("texts", "#texts"), ("edit", "#edit-details"))}
        assert all(top.values()), top
        y = {name: box["y"] for name, box in top.items() if box}
        x = {name: box["x"] for name, box in top.items() if box}
        assert y["gonogo"] < y["hold"] < y["booking"]
        if px < 992:
            assert y["booking"] < y["timeline"] < y["texts"] < y["edit"]
            assert y["hold"] < 1180, "go / no-go and the hold's clearance start on the first screen"
        else:
            assert x["gonogo"] > x["timeline"] and abs(y["gonogo"] - y["timeline"]) < 2
        page.screenshot(path=str(SHOTS / f"episode-order-{px}.png"))
    finally:
        page.close()


def test_an_empty_list_says_what_to_do_next(site: Site) -> None:
    page = _context(site, "coordinator").new_page()
    try:
        page.goto(site.server.url + "/board?status=missed")
        empty = page.locator(".empty-state")
        assert "Clear them to see every active episode" in empty.inner_text()
        empty.get_by_role("link", name="Show all active episodes").click()
        page.wait_for_url(site.server.url + "/board")
        assert page.locator(".board-table tbody tr").count() == 2
    finally:
        page.close()


def test_the_axe_check_names_each_serious_violation(site: Site) -> None:
    """The helper is not a rubber stamp: an image without words and pale grey text fail, named."""
    page = site.browser.new_page()  # type: ignore[attr-defined]
    try:
        page.set_content('<html lang="en"><head><title>t</title></head><body><main><h1>t</h1>'
                         '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" id="no-alt">'
                         '<p id="faint" style="color:#bbb;background:#fff">faint</p></main></body></html>')
        found = violations(page)
        assert {v["id"] for v in found} >= {"image-alt", "color-contrast"}
        text = describe(found)
        assert "image-alt (critical) at #no-alt" in text and "color-contrast (serious) at #faint" in text
    finally:
        page.close()
