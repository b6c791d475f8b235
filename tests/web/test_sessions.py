"""Sessions end when they should, at once, whoever holds a copy of the cookie (issue 13)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from pathway.models import AuditEvent, User
from pathway.services.base import SYSTEM
from pathway.services.users import set_active, set_password
from tests.web.conftest import Browser

COOKIE = "pathway_session"


def _copy(browser: Browser) -> Browser:
    """A second browser holding a copy of the first one's session cookie (a stolen cookie)."""
    cookie = browser.client.get_cookie(COOKIE)
    assert cookie is not None
    thief = Browser(browser.app)
    thief.client.set_cookie(COOKIE, cookie.value)
    return thief


def _signed_out(response: Any) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_cookie_copied_before_sign_out_gets_the_login_page_after_it(as_role: Any, session: Any,
                                                                      staff: Any) -> None:
    nurse = as_role("coordinator")
    thief = _copy(nurse)
    assert thief.get("/patients").status_code == 200  # the copy works while the session lives
    signed_out = nurse.post("/logout")
    assert signed_out.status_code == 302 and signed_out.headers["Clear-Site-Data"] == '"cache", "storage"'
    replay = thief.get("/patients")
    assert _signed_out(replay)
    assert "an administrator ended your sessions" in thief.text("/login")
    assert thief.client.get("/api/v1/worklist").status_code == 401  # a cookie never opens the API
    actions = session.scalars(select(AuditEvent.action).where(
        AuditEvent.user_id == staff["coordinator"].user_id, AuditEvent.action == "logout")).all()
    assert actions == ["logout"]


def test_signing_out_ends_the_accounts_other_sessions_too(as_role: Any) -> None:
    desk, laptop = as_role("clinician"), as_role("clinician")
    desk.post("/logout")
    assert _signed_out(laptop.get("/board"))


def test_an_admins_sign_out_everywhere_ends_every_session_of_that_account_at_once(
        as_role: Any, session: Any, staff: Any) -> None:
    one, two = as_role("coordinator"), as_role("coordinator")
    other = as_role("clinician")
    admin = as_role("admin")
    page = admin.text("/admin/users")
    target = staff["coordinator"].user_id
    assert f"/admin/users/{target}/sessions/end" in page and "Sign out everywhere" in page
    response = admin.post(f"/admin/users/{target}/sessions/end")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/users")
    assert "signed out everywhere" in admin.text("/admin/users")
    assert _signed_out(one.get("/patients")) and _signed_out(two.get("/"))
    assert other.get("/board").status_code == 200  # nobody else is touched
    row = session.scalars(select(AuditEvent).where(AuditEvent.action == "user.sessions_ended")).one()
    assert (row.entity_id, row.user_id, row.detail) == (target, staff["admin"].user_id, None)
    assert as_role("coordinator").get("/patients").status_code == 200  # signing in again works


def test_only_an_admin_may_sign_someone_out_everywhere(as_role: Any, staff: Any) -> None:
    nurse = as_role("coordinator")
    victim = as_role("clinician")
    assert nurse.post(f"/admin/users/{staff['clinician'].user_id}/sessions/end").status_code == 403
    assert victim.get("/board").status_code == 200
    assert as_role("admin").post("/admin/users/987654/sessions/end").status_code == 404


def test_a_password_change_ends_the_accounts_sessions(as_role: Any, session: Any, env: Any, staff: Any) -> None:
    doctor = as_role("clinician")
    set_password(session, env, SYSTEM, staff["clinician"].user_id, "a brand new passphrase")
    session.flush()
    assert _signed_out(doctor.get("/board"))
    assert Browser(doctor.app).login("clinician@example.test").status_code == 401  # the old password
    assert Browser(doctor.app).login("clinician@example.test", "a brand new passphrase").status_code == 302


def test_deactivation_ends_sessions_and_reactivation_does_not_revive_them(as_role: Any, session: Any, env: Any,
                                                                          staff: Any) -> None:
    nurse = as_role("coordinator")
    thief = _copy(nurse)
    set_active(session, env, staff["admin"], staff["coordinator"].user_id, False)
    session.flush()
    assert _signed_out(nurse.get("/patients"))
    set_active(session, env, staff["admin"], staff["coordinator"].user_id, True)
    session.flush()
    assert _signed_out(thief.get("/patients"))


def test_a_session_ends_twelve_hours_after_sign_in_however_active(as_role: Any, web_clock: Any) -> None:
    nurse = as_role("coordinator")
    for _ in range(12 * 3):  # a request every 20 minutes: never idle
        web_clock.advance(timedelta(minutes=20))
        assert nurse.get("/patients").status_code == 200
    web_clock.advance(timedelta(minutes=1))
    response = nurse.get("/patients")
    assert _signed_out(response) and "next=/patients" in response.headers["Location"]
    assert "signed out 12 hours after signing in" in nurse.text("/login")


def test_the_absolute_lifetime_is_a_setting(web_app_with: Any, staff: Any, web_clock: Any) -> None:
    nurse = Browser(web_app_with(web={"session_absolute_hours": 1})).login_as("coordinator")
    for _ in range(3):
        web_clock.advance(timedelta(minutes=20))
        assert nurse.get("/patients").status_code == 200
    web_clock.advance(timedelta(seconds=1))
    assert _signed_out(nurse.get("/patients"))


def test_the_idle_timeout_still_applies_beside_the_lifetime(as_role: Any, web_clock: Any) -> None:
    nurse = as_role("coordinator")
    web_clock.advance(timedelta(minutes=31))
    assert _signed_out(nurse.get("/patients"))
    assert "30 minutes without activity" in nurse.text("/login")


def test_a_user_row_remembers_the_generation_each_end_raised(session: Any, env: Any, staff: Any) -> None:
    from pathway.services.users import end_sessions

    user = session.get(User, staff["coordinator"].user_id)
    start = user.session_generation
    end_sessions(session, env, staff["admin"], user.id)
    set_password(session, env, staff["admin"], user.id, "another long passphrase")
    assert user.session_generation == start + 2


def test_signing_in_starts_a_fresh_session(browser: Browser) -> None:
    with browser.client.session_transaction() as planted:
        planted["planted_by_attacker"] = "x"
        planted["_user_id"] = "1"  # and a forged account id, without a generation
    assert _signed_out(browser.get("/patients"))  # a cookie without a matching generation is refused
    with browser.client.session_transaction() as planted:
        planted["planted_by_attacker"] = "x"
    assert browser.login("coordinator@example.test").status_code == 302
    with browser.client.session_transaction() as after:
        assert "planted_by_attacker" not in after and "pathway_generation" in after
