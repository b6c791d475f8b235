"""The admin's API tokens page (/admin/tokens): list, create (the secret shown once) and revoke;
a revoked or expired token answers 401 on the API at once (issue 13)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from pathway.clock import FixedClock
from pathway.models import ApiToken, AuditEvent
from tests.web.conftest import Browser

_SECRET = re.compile(r'id="new-token" type="text" readonly value="(pw_[^"]+)"')


def _api(app: Any, token: str) -> Any:
    return app.test_client().get("/api/v1/worklist", headers={"Authorization": f"Bearer {token}"})


def _create(admin: Browser, **form: Any) -> Any:
    admin.get("/admin/tokens")
    return admin.post("/admin/tokens", {"email": "coordinator@example.test", "name": "EHR sync",
                                        "expires_in_days": "90", **form})


def test_an_admin_creates_a_token_sees_it_once_and_it_works(web_app: Any, as_role: Any, session: Any) -> None:
    admin = as_role("admin")
    page = admin.text("/admin/tokens")
    assert "No API tokens" in page and 'value="90"' in page  # the default lifetime, from the setting
    created = _create(admin)
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    body = created.get_data(as_text=True)
    secret = _SECRET.search(body).group(1)  # type: ignore[union-attr]
    assert "It will not be shown again" in body
    assert _api(web_app, secret).status_code == 200
    again = admin.text("/admin/tokens")
    assert secret not in again and secret[:10] in again and "EHR sync" in again and "Active" in again
    # Never flashed: the session cookie (signed, not encrypted) does not carry it.
    cookie = admin.client.get_cookie("pathway_session")
    assert cookie is not None and secret not in cookie.value
    row = session.scalars(select(ApiToken).where(ApiToken.prefix == secret[:10])).one()
    assert row.name == "EHR sync" and row.expires_at - row.created_at == timedelta(days=90)
    assert row.last_used_at is not None  # the API call above
    audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "token.create")).one()
    assert audit.entity_id == row.id and audit.actor.startswith("user:")


def test_revoking_on_the_page_answers_401_at_once(web_app: Any, as_role: Any, session: Any) -> None:
    admin = as_role("admin")
    secret = _SECRET.search(_create(admin).get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    row_id = session.scalar(select(ApiToken.id).where(ApiToken.prefix == secret[:10]))
    assert _api(web_app, secret).status_code == 200
    revoked = admin.post(f"/admin/tokens/{row_id}/revoke")
    assert revoked.status_code == 302 and revoked.headers["Location"] == "/admin/tokens"
    answer = _api(web_app, secret)
    assert answer.status_code == 401 and 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    assert "revoked or expired" in answer.get_json()["message"]
    page = admin.text("/admin/tokens")
    assert "is revoked" in page and "Revoked" in page
    assert f'action="/admin/tokens/{row_id}/revoke"' not in page  # nothing left to revoke
    assert session.scalar(select(AuditEvent.entity_id).where(AuditEvent.action == "token.revoke")) == row_id


def test_an_expired_token_answers_401_and_shows_as_expired(web_app: Any, as_role: Any,
                                                           web_clock: FixedClock) -> None:
    admin = as_role("admin")
    secret = _SECRET.search(_create(admin, expires_in_days="1").get_data(as_text=True)).group(1)  # type: ignore
    assert _api(web_app, secret).status_code == 200
    web_clock.set(web_clock() + timedelta(days=1))
    assert _api(web_app, secret).status_code == 401
    later = Browser(web_app).login_as("admin")  # the admin's own session has idled out by now
    assert "Expired" in later.text("/admin/tokens")


def test_bad_input_on_the_page_names_the_field_and_creates_nothing(as_role: Any, session: Any) -> None:
    admin = as_role("admin")
    for form, field in (({"name": ""}, "name"), ({"name": "a\u202eb"}, "name"),
                        ({"expires_in_days": "400"}, "expires_in_days"),
                        ({"expires_in_days": "1e309"}, "expires_in_days"),
                        ({"email": "nobody@example.test"}, "email")):
        answer = _create(admin, **form)
        body = answer.get_data(as_text=True)
        assert answer.status_code == 422 and "Nothing was saved" in body, (form, body[:200])
        assert f'id="f-{field}-error"' in body, form  # the error sits under its own field
        assert _SECRET.search(body) is None
    assert session.scalars(select(ApiToken)).all() == []


def test_the_default_lifetime_on_the_page_is_the_setting(web_app_with: Any, staff: Any) -> None:
    admin = Browser(web_app_with(web={"api_token_days": 30})).login_as("admin")
    assert 'value="30"' in admin.text("/admin/tokens")


def test_only_admins_reach_the_tokens_page(as_role: Any) -> None:
    for role in ("coordinator", "clinician"):
        someone = as_role(role)
        assert someone.get("/admin/tokens").status_code == 403
        assert someone.post("/admin/tokens", {"name": "x"}).status_code == 403
    assert 'href="/admin/tokens"' in as_role("admin").text("/admin/users")
