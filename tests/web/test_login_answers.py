"""The sign-in page gives one answer to every refusal, and a throttled attacker does not lock the
user out of their own desk (issue 13)."""

from __future__ import annotations

import re
from typing import Any

from pathway.services.users import FREE_FAILURES, set_active
from tests.web.conftest import PASSWORD, Browser

ATTACKER, DESK = "203.0.113.66", "198.51.100.10"


def _login(app: Any, email: str, password: str, addr: str) -> Any:
    b = Browser(app)
    b.get("/login", environ_base={"REMOTE_ADDR": addr})
    return b.post("/login", {"email": email, "password": password}, environ_base={"REMOTE_ADDR": addr})


def _page(response: Any) -> str:
    text = response.get_data(as_text=True)
    text = re.sub(r'name="csrf_token" value="[^"]+"', "", text)
    return re.sub(r'name="email" value="[^"]*"', "", text)  # the form keeps what was typed


def test_unknown_email_wrong_password_throttled_and_deactivated_get_the_same_answer(
        web_app: Any, session: Any, env: Any, staff: Any) -> None:
    for _ in range(FREE_FAILURES):
        _login(web_app, "clinician@example.test", "guess", ATTACKER)
    set_active(session, env, staff["admin"], staff["coordinator"].user_id, False)
    session.flush()
    answers = {
        "unknown": _login(web_app, "nobody@example.test", PASSWORD, ATTACKER),
        "wrong password": _login(web_app, "admin@example.test", "guess", ATTACKER),
        "throttled": _login(web_app, "clinician@example.test", PASSWORD, ATTACKER),
        "deactivated": _login(web_app, "coordinator@example.test", PASSWORD, ATTACKER),
    }
    assert {k: a.status_code for k, a in answers.items()} == dict.fromkeys(answers, 401)
    pages = {_page(a) for a in answers.values()}
    assert len(pages) == 1 and "do not match an active account" in pages.pop()


def test_a_throttled_attacker_does_not_stop_the_user_signing_in_from_their_desk(web_app: Any) -> None:
    for _ in range(FREE_FAILURES * 3):
        assert _login(web_app, "clinician@example.test", "guess", ATTACKER).status_code == 401
    assert _login(web_app, "clinician@example.test", PASSWORD, ATTACKER).status_code == 401
    signed_in = _login(web_app, "clinician@example.test", PASSWORD, DESK)
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/board")
