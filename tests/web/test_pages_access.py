"""Sign-in, roles, CSRF, idle timeout, cookies, secret key and the audit of patient views."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from pathway.app import create_app
from pathway.config import load_config
from pathway.models import AuditEvent, Patient
from tests.web.conftest import Browser

MISSING = 987_654_321
# The per-session CSRF token is signed with a timestamp; it is the only part of a page that may differ.
_TOKEN = re.compile(r'name="csrf_token" value="[^"]+"')
CALLERS = ("anonymous", "coordinator", "clinician", "admin")


def _client(web_app: Any, role: str) -> Browser:
    b = Browser(web_app)
    return b if role == "anonymous" else b.login_as(role)


# --- signing in ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role, home", [("coordinator", "/"), ("clinician", "/board"), ("admin", "/admin/users")])
def test_each_role_signs_in_to_its_home_page(browser: Browser, role: str, home: str) -> None:
    response = browser.login(f"{role}@example.test")
    assert response.status_code == 302 and response.headers["Location"] == home
    assert browser.get(home).status_code == 200


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(browser: Browser, session: Any) -> None:
    response = browser.login("coordinator@example.test", "not the password")
    assert response.status_code == 401
    assert "do not match an active account" in response.get_data(as_text=True)
    assert browser.get("/").status_code == 302  # still signed out
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "login.failed")) == 1


def test_an_unknown_email_gets_the_same_answer(browser: Browser) -> None:
    response = browser.login("nobody@example.test", "whatever it is")
    assert response.status_code == 401 and "do not match an active account" in response.get_data(as_text=True)


def test_a_deactivated_user_is_signed_out_on_the_next_request(web_app: Any, session: Any, staff: Any, env: Any) -> None:
    from pathway.services.users import set_active

    coordinator = _client(web_app, "coordinator")
    assert coordinator.get("/").status_code == 200
    set_active(session, env, staff["admin"], staff["coordinator"].user_id, False)
    session.flush()
    assert coordinator.get("/").status_code == 302


def test_logout_needs_post_and_ends_the_session(web_app: Any) -> None:
    c = _client(web_app, "coordinator")
    assert c.client.get("/logout").status_code == 405
    assert c.post("/logout").status_code == 302
    assert c.get("/").headers["Location"].startswith("/login")


def test_next_after_login_stays_on_this_site(browser: Browser) -> None:
    browser.get("/login")
    response = browser.post("/login?next=https://evil.example/x", {"email": "coordinator@example.test",
                                                                    "password": "correct horse battery"})
    assert response.headers["Location"] == "/"


# --- the role matrix ----------------------------------------------------------------------------


def _routes(ids: dict[str, int]) -> list[tuple[str, str, dict[str, Any], tuple[str, ...]]]:
    """(method, url, form, roles allowed) for every page route, on records that exist."""
    care = ("coordinator", "clinician")
    p, e, h, m, t = ids["patient"], ids["episode"], ids["hold"], ids["milestone"], ids["task"]
    return [
        ("GET", "/patients", {}, care),
        ("GET", "/patients?q=Example", {}, care),
        ("GET", "/patients/new", {}, care),
        ("POST", "/patients/new", {"mrn": ""}, care),
        ("GET", f"/patients/{p}", {}, care),
        ("POST", f"/patients/{p}/consent", {"consent_method": "nope"}, care),
        ("GET", f"/patients/{p}/edit", {}, care),
        ("POST", f"/patients/{p}/edit", {"phone": "555"}, care),
        ("GET", f"/patients/{p}/episodes/new", {}, care),
        ("POST", f"/patients/{p}/episodes/new", {"procedure_at": ""}, care),
        ("GET", f"/episodes/{e}", {}, care),
        ("POST", f"/episodes/{e}/holds/{h}/clearance", {"status": "bogus"}, care),
        ("POST", f"/episodes/{e}/holds/{h}/inr", {"value": "x"}, care),
        ("POST", f"/episodes/{e}/appointments/follow_up", {"appointment_at": ""}, care),
        ("POST", f"/episodes/{e}/procedure-end", {"ended_at": ""}, care),
        ("POST", f"/episodes/{e}/milestones/{m}/complete", {}, care),
        ("POST", f"/episodes/{e}/escort", {"arranged": "yes"}, care),
        ("POST", f"/episodes/{e}/cancel", {"reason": "x" * 600}, care),
        ("GET", f"/episodes/{e}/reschedule", {}, care),
        ("POST", f"/episodes/{e}/reschedule", {"procedure_at": ""}, care),
        ("POST", f"/tasks/{t}/resolve", {}, care),
        ("GET", "/holds/to-sign", {}, care),
        ("GET", "/board", {}, care),
        ("GET", "/messages", {}, care),
        ("GET", "/admin/users", {}, ("admin",)),
        ("POST", "/admin/users", {"email": "bad"}, ("admin",)),
        ("POST", f"/admin/users/{ids['user']}/active", {"active": "yes"}, ("admin",)),
        ("GET", "/admin/tokens", {}, ("admin",)),
        ("POST", "/admin/tokens", {"name": ""}, ("admin",)),
        ("POST", f"/admin/tokens/{ids['token']}/revoke", {}, ("admin",)),
    ]


def _missing(url: str) -> str:
    """The same route on a record that does not exist."""
    return re.sub(r"/(\d+)(?=/|$)", f"/{MISSING}", url, count=1)


@pytest.fixture
def ids(session: Any, env: Any, staff: Any, make_episode: Any) -> dict[str, int]:
    from pathway.models import ApiToken
    from pathway.services.tasks import open_task
    from pathway.services.users import create_token

    token = create_token(session, env, staff["admin"], "coordinator@example.test", "sync")
    token_id = session.scalar(select(ApiToken.id).where(ApiToken.prefix == token[:10]))
    e = make_episode(holds=[{"drug": "warfarin"}])
    task = open_task(session, env, "send_failed", "message:x", "Text failed", patient_id=e.patient_id,
                     episode_id=e.id)
    session.flush()
    milestone = next(m for m in e.milestones if m.kind == "check_72h")
    return {"patient": e.patient_id, "episode": e.id, "hold": e.holds[0].id, "milestone": milestone.id,
            "task": task.id, "user": staff["clinician"].user_id, "token": token_id}


@pytest.mark.parametrize("caller", CALLERS)
def test_every_page_route_answers_each_role_without_leaking(web_app: Any, ids: dict[str, int], caller: str) -> None:
    c = _client(web_app, caller)
    problems = []
    for method, url, form, allowed in _routes(ids):
        urls = [url] if url == _missing(url) else [url, _missing(url)]
        answers = []
        for target in urls:
            r = c.get(target) if method == "GET" else c.post(target, form)
            answers.append((r.status_code, _TOKEN.sub("", r.get_data(as_text=True))))
            body = r.get_data(as_text=True)
            if caller == "anonymous":
                ok = r.status_code == 302 and "/login" in r.headers.get("Location", "")
            elif caller not in allowed:
                # A 403 that names the role the page needs, and nothing of the record.
                ok = (r.status_code == 403 and "Example" not in body and "MRN" not in body
                      and "Not allowed for your role" in body and "role" in body)
            elif target != url:
                ok = r.status_code == 404  # a missing record, for a role that may see it
            else:
                ok = r.status_code in (200, 302, 422)
            if not ok:
                problems.append(f"{caller} {method} {target} -> {r.status_code}")
        # The role is checked before the record is looked up: forbidden on a record that exists and
        # on one that does not are the same page, so a refusal reveals nothing.
        if caller not in allowed and caller != "anonymous" and len(answers) == 2 and answers[0] != answers[1]:
            problems.append(f"{caller} {method} {url}: forbidden on an existing and a missing record differ")
    assert problems == []


def test_a_role_refusal_is_a_403_that_says_so_and_the_same_for_a_missing_record(
    web_app: Any, ids: dict[str, int]
) -> None:
    admin = _client(web_app, "admin")
    coordinator = _client(web_app, "coordinator")
    forbidden = admin.get(f"/patients/{ids['patient']}")
    forbidden_missing = admin.get(f"/patients/{MISSING}")
    missing = coordinator.get(f"/patients/{MISSING}")
    assert forbidden.status_code == forbidden_missing.status_code == 403 and missing.status_code == 404
    strip = lambda r: _TOKEN.sub("", r.get_data(as_text=True).split('<main', 1)[1].split("</main>", 1)[0])  # noqa: E731
    assert strip(forbidden) == strip(forbidden_missing)
    page = strip(forbidden)
    assert "Not allowed for your role" in page and "needs the coordinator or clinician role" in page
    assert "Not found" not in page and "Example" not in page
    # A coordinator opening an admin page is told it is an admin page, not that it does not exist.
    admin_page = coordinator.get("/admin/users")
    assert admin_page.status_code == 403
    text = admin_page.get_data(as_text=True)
    assert "Your account (coordinator) cannot open this page: it needs the admin role." in text
    assert "Not found" not in text
    assert "Not found" in missing.get_data(as_text=True)


def test_admin_home_shows_user_admin_only(web_app: Any, ids: dict[str, int]) -> None:
    admin = _client(web_app, "admin")
    assert admin.get("/").headers["Location"] == "/admin/users"
    page = admin.text("/admin/users")
    assert "Worklist" not in page and "Patients" not in page and "Example" not in page


# --- CSRF -------------------------------------------------------------------------------------


def test_a_form_posted_without_a_csrf_token_is_refused_and_nothing_is_stored(web_app: Any, session: Any) -> None:
    c = _client(web_app, "coordinator")
    before = session.scalar(select(func.count()).select_from(Patient))
    r = c.post("/patients/new", {"mrn": "CSRF1", "given_name": "No", "family_name": "Token",
                                 "birth_date": "1950-01-01", "phone": "+1 212 555 0101"}, csrf=False)
    assert r.status_code == 400 and "security token" in r.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Patient)) == before


def test_the_login_form_needs_a_csrf_token_too(browser: Browser) -> None:
    r = browser.post("/login", {"email": "coordinator@example.test", "password": "correct horse battery"},
                     csrf=False)
    assert r.status_code == 400


def test_api_and_webhooks_are_exempt_from_csrf(web_app: Any) -> None:
    csrf = web_app.extensions["csrf"]
    assert {bp.name for bp in csrf._exempt_blueprints} >= {"api", "webhooks"}
    r = web_app.test_client().post("/api/v1/patients", json={})
    assert r.status_code != 400 or "CSRF" not in r.get_data(as_text=True)


# --- idle timeout and cookies -------------------------------------------------------------------


def test_a_session_idle_longer_than_the_setting_is_signed_out(web_app: Any, web_clock: Any) -> None:
    c = _client(web_app, "coordinator")
    web_clock.advance(timedelta(minutes=29))
    assert c.get("/").status_code == 200  # activity refreshes the session
    web_clock.advance(timedelta(minutes=29))
    assert c.get("/").status_code == 200
    web_clock.advance(timedelta(minutes=31))
    r = c.get("/patients")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=/patients")
    assert "without activity" in c.get("/login").get_data(as_text=True)
    assert c.get("/").status_code == 302  # stays signed out


def test_session_cookie_flags(web_app: Any) -> None:
    assert web_app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert web_app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert web_app.config["SESSION_COOKIE_SECURE"] is False  # public_url is http in tests
    assert web_app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(minutes=30)
    c = Browser(web_app)
    c.login("coordinator@example.test")
    cookie = c.client.get_cookie("pathway_session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


def _app(public_url: str, secret: str = "", **flask: Any) -> Any:
    from pathway.runtime import Runtime

    env = {"PATHWAY_SECRET_KEY": secret} if secret else {}
    config = load_config(env=env, overrides={"database": {"url": "sqlite://"}, "web": {"public_url": public_url}})
    return create_app(runtime=Runtime.build(config), **flask)


def test_https_public_url_makes_the_cookie_secure() -> None:
    assert _app("https://pathway.clinic.example", secret="x" * 40).config["SESSION_COOKIE_SECURE"] is True


def test_without_a_secret_key_production_refuses_to_start() -> None:
    with pytest.raises(RuntimeError, match="PATHWAY_SECRET_KEY"):
        _app("https://pathway.clinic.example")


def test_without_a_secret_key_the_demo_gets_a_random_key_and_a_warning(caplog: Any) -> None:
    with caplog.at_level(logging.WARNING):
        a, b = _app("http://127.0.0.1:5000"), _app("http://127.0.0.1:5000")
    assert a.config["SECRET_KEY"] and a.config["SECRET_KEY"] != b.config["SECRET_KEY"]
    assert "PATHWAY_SECRET_KEY is not set" in caplog.text


# --- audit of views ---------------------------------------------------------------------------


def test_viewing_a_patient_or_an_episode_is_audited_with_who_and_where(
    web_app: Any, session: Any, staff: Any, make_episode: Any
) -> None:
    e = make_episode()
    c = _client(web_app, "clinician")
    c.get(f"/patients/{e.patient_id}", environ_base={"REMOTE_ADDR": "198.51.100.9"})
    c.get(f"/episodes/{e.id}", environ_base={"REMOTE_ADDR": "198.51.100.9"})
    rows = session.execute(
        select(AuditEvent.action, AuditEvent.user_id, AuditEvent.patient_id, AuditEvent.remote_addr)
        .where(AuditEvent.action.in_(("patient.view", "episode.view"))).order_by(AuditEvent.id)
    ).all()
    uid = staff["clinician"].user_id
    assert [tuple(r) for r in rows] == [("patient.view", uid, e.patient_id, "198.51.100.9"),
                                        ("episode.view", uid, e.patient_id, "198.51.100.9")]


def test_a_refused_view_leaves_no_view_audit(web_app: Any, session: Any, make_episode: Any) -> None:
    e = make_episode()
    _client(web_app, "admin").get(f"/patients/{e.patient_id}")
    assert session.scalar(select(func.count()).select_from(AuditEvent)
                          .where(AuditEvent.action == "patient.view")) == 0
