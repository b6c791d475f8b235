"""The Content-Security-Policy breaks nothing a browser does (issue 13): Chromium reports no
violation on the pages staff use, Bootstrap's script still runs, and an admin's "sign out
everywhere" ends a colleague's open session at once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.web.test_browser import _sign_in, chromium, live

pytestmark = pytest.mark.browser
__all__ = ["live"]  # the shared live app (a fixture)

SHOTS = Path(os.environ.get("PATHWAY_TEST_SHOTS", Path(__file__).resolve().parents[2] / "test-output" / "screenshots"))


def test_pages_run_under_the_csp_without_violations_and_sign_out_everywhere_works(live: Any) -> None:
    server, _clock = live
    SHOTS.mkdir(parents=True, exist_ok=True)
    violations: list[str] = []

    with chromium() as browser:
        nurse = browser.new_page(viewport={"width": 420, "height": 900})  # narrow: the menu collapses
        nurse.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        _sign_in(nurse, "coordinator@browser.test", at=server.url + "/login")
        nurse.wait_for_url(server.url + "/")
        for path in ("/patients", "/patients/new", "/board", "/messages", "/"):
            nurse.goto(server.url + path)
        # Bootstrap's own script (served from the package) still opens the collapsed menu.
        menu = nurse.get_by_role("link", name="Patients")
        assert not menu.is_visible()
        nurse.get_by_role("button", name="Show menu").click()
        menu.wait_for(state="visible")

        admin = browser.new_page(viewport={"width": 1280, "height": 800})
        admin.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        _sign_in(admin, "admin@browser.test", at=server.url + "/login")
        admin.wait_for_url("**/admin/users")
        row = admin.get_by_role("row").filter(has_text="coordinator@browser.test")
        row.get_by_role("button", name="Sign out everywhere").click()
        admin.wait_for_url("**/admin/users")
        admin.get_by_text("coordinator@browser.test is signed out everywhere.").wait_for()
        admin.screenshot(path=str(SHOTS / "harden-admin-users.png"), full_page=True)

        nurse.goto(server.url + "/patients")
        nurse.wait_for_url("**/login**")
        nurse.get_by_text("an administrator ended your sessions", exact=False).wait_for()
        nurse.screenshot(path=str(SHOTS / "harden-session-ended.png"), full_page=True)
    assert violations == []
