"""An admin creates, copies and revokes an API token in Chromium (issue 13); the secret is shown
once, the CSP reports no violation, and the revoked token answers 401 at once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.web.test_browser import _sign_in, chromium, live

pytestmark = pytest.mark.browser
__all__ = ["live"]  # the shared live app (a fixture)

SHOTS = Path(os.environ.get("PATHWAY_TEST_SHOTS", Path(__file__).resolve().parents[2] / "test-output" / "screenshots"))


def test_an_admin_creates_a_token_sees_it_once_and_revokes_it(live: Any) -> None:
    server, _clock = live
    SHOTS.mkdir(parents=True, exist_ok=True)
    violations: list[str] = []

    def api(token: str) -> int:
        answer = requests.get(server.url + "/api/v1/worklist", headers={"Authorization": f"Bearer {token}"},
                              timeout=30)
        return answer.status_code

    with chromium() as browser:
        admin = browser.new_page(viewport={"width": 1280, "height": 800})
        admin.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        _sign_in(admin, "admin@browser.test", at=server.url + "/login")
        admin.wait_for_url("**/admin/users")
        admin.get_by_role("link", name="API tokens").click()
        admin.wait_for_url("**/admin/tokens")
        admin.get_by_text("No API tokens").wait_for()
        admin.get_by_label("Account").select_option("coordinator@browser.test")
        admin.get_by_label("Name").fill("EHR nightly sync")
        assert admin.get_by_label("Expires in (days)").input_value() == "90"
        admin.get_by_role("button", name="Create token").click()
        admin.get_by_text('Token "EHR nightly sync" created for coordinator@browser.test').wait_for()
        secret = admin.get_by_label("Token", exact=True).input_value()
        assert secret.startswith("pw_")
        admin.screenshot(path=str(SHOTS / "tokens-created.png"), full_page=True)
        assert api(secret) == 200

        admin.goto(server.url + "/admin/tokens")
        assert secret not in admin.content()  # shown once
        row = admin.get_by_role("row").filter(has_text="EHR nightly sync")
        row.get_by_role("button", name="Revoke").click()
        admin.wait_for_url("**/admin/tokens")
        admin.get_by_text("is revoked; requests with it now answer 401").wait_for()
        admin.screenshot(path=str(SHOTS / "tokens-revoked.png"), full_page=True)
        assert api(secret) == 401
    assert violations == []
