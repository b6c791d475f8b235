"""API tokens (issue 13): named, expiring (90 days unless told), stored as hashes, last use kept,
listed and revoked by an admin; a revoked or expired token identifies nobody at once. Audited."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from pathway.models import ApiToken, AuditEvent
from pathway.services.base import MAX_ID, Actor, Forbidden, NotFound, ValidationError
from pathway.services.users import (
    create_token,
    create_user,
    list_tokens,
    revoke_token,
    set_active,
    token_state,
    user_for_token,
)
from tests.conftest import at

ADMIN = Actor(role="admin", user_id=None, label="test-admin")
EMAIL = "script@clinic.example"


@pytest.fixture
def account(session: Any, env: Any) -> Any:
    return create_user(session, env, ADMIN, EMAIL, "coordinator", "a long passphrase")


def _row(session: Any, token: str) -> ApiToken:
    row: ApiToken = session.scalars(select(ApiToken).where(ApiToken.prefix == token[:10])).one()
    return row


def _audit(session: Any, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_a_token_is_named_expires_in_ninety_days_by_default_and_only_its_hash_is_stored(
        session: Any, env: Any, account: Any) -> None:
    token = create_token(session, env, ADMIN, EMAIL, "EHR nightly sync")
    row = _row(session, token)
    assert row.name == "EHR nightly sync" and row.user_id == account.id
    assert row.expires_at == env.now + timedelta(days=90)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in row.token_hash
    assert row.prefix == token[:10] and len(token) > 40  # the prefix names it; the secret is not kept
    created = _audit(session, "token.create")[-1]
    assert (created.entity_type, created.entity_id, created.actor) == ("api_token", row.id, "test-admin")
    assert created.detail == {"user_id": account.id, "expires_at": row.expires_at.isoformat(), "days": 90}
    assert token not in repr(created.detail)


def test_the_expiry_follows_the_option_or_the_setting(session: Any, env: Any, account: Any) -> None:
    seven = _row(session, create_token(session, env, ADMIN, EMAIL, "a week", 7))
    assert seven.expires_at == env.now + timedelta(days=7)
    setting = _row(session, create_token(session, env, ADMIN, EMAIL, "setting", None, default_days=30))
    assert setting.expires_at == env.now + timedelta(days=30)


@pytest.mark.parametrize(("name", "days", "field"), [
    ("", None, "name"),
    ("   ", None, "name"),
    ("x" * 61, None, "name"),
    ("sync\u202egnp.exe", None, "name"),  # a right-to-left override hides what the name says
    ("line\nbreak", None, "name"),
    ("ok", 0, "expires_in_days"),
    ("ok", 366, "expires_in_days"),
    ("ok", "1e309", "expires_in_days"),
    ("ok", float("inf"), "expires_in_days"),
])
def test_a_bad_name_or_expiry_is_refused_naming_the_field_and_stores_nothing(
        session: Any, env: Any, account: Any, name: str, days: Any, field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        create_token(session, env, ADMIN, EMAIL, name, days)
    assert field in refused.value.errors
    assert session.scalars(select(ApiToken)).all() == []
    assert _audit(session, "token.create") == []


def test_only_an_admin_creates_lists_or_revokes_tokens(session: Any, env: Any, account: Any) -> None:
    token = create_token(session, env, ADMIN, EMAIL, "sync")
    nurse = Actor.for_user(account)
    with pytest.raises(Forbidden):
        create_token(session, env, nurse, EMAIL, "mine")
    with pytest.raises(Forbidden):
        list_tokens(session, nurse)
    with pytest.raises(Forbidden):
        revoke_token(session, env, nurse, _row(session, token).id)
    assert user_for_token(session, env, token) is account


def test_a_token_stops_working_the_moment_it_expires(session: Any, env: Any, account: Any) -> None:
    token = create_token(session, env, ADMIN, EMAIL, "short", 1)
    row = _row(session, token)
    just_before = at(env, row.expires_at - timedelta(seconds=1))
    assert user_for_token(session, just_before, token) is account
    assert user_for_token(session, at(env, row.expires_at), token) is None
    assert token_state(row, row.expires_at) == "expired"


def test_a_revoked_token_stops_at_once_and_the_revocation_is_audited_once(
        session: Any, env: Any, account: Any) -> None:
    token = create_token(session, env, ADMIN, EMAIL, "sync")
    row = _row(session, token)
    assert user_for_token(session, env, token) is account
    revoke_token(session, env, ADMIN, row.id)
    assert user_for_token(session, env, token) is None
    assert row.revoked_at == env.now and token_state(row, env.now) == "revoked"
    revoke_token(session, at(env, env.now + timedelta(hours=1)), ADMIN, row.id)  # again: nothing changes
    assert row.revoked_at == env.now
    revoked = _audit(session, "token.revoke")
    assert [(a.entity_type, a.entity_id, a.detail) for a in revoked] == [("api_token", row.id,
                                                                         {"user_id": account.id})]


def test_revoking_a_missing_or_out_of_range_id_is_not_found(session: Any, env: Any, account: Any) -> None:
    for missing in (MAX_ID, MAX_ID + 1, 2**63, 10**30, -1, 0, "abc", "1e3"):
        with pytest.raises(NotFound):
            revoke_token(session, env, ADMIN, missing)


def test_last_use_is_kept_coarsely(session: Any, env: Any, account: Any) -> None:
    token = create_token(session, env, ADMIN, EMAIL, "sync")
    row = _row(session, token)
    assert row.last_used_at is None
    user_for_token(session, env, token)
    assert row.last_used_at == env.now
    user_for_token(session, at(env, env.now + timedelta(minutes=4)), token)
    assert row.last_used_at == env.now  # within five minutes: no write
    later = env.now + timedelta(minutes=6)
    user_for_token(session, at(env, later), token)
    assert row.last_used_at == later


def test_the_list_shows_every_token_newest_first_with_its_state(session: Any, env: Any, account: Any) -> None:
    old = create_token(session, env, ADMIN, EMAIL, "old", 1)
    later = at(env, env.now + timedelta(days=2))
    new = create_token(session, later, ADMIN, EMAIL, "new")
    gone = create_token(session, later, ADMIN, EMAIL, "gone")
    revoke_token(session, later, ADMIN, _row(session, gone).id)
    listed = [(t.name, token_state(t, later.now)) for t in list_tokens(session, ADMIN)]
    assert listed == [("gone", "revoked"), ("new", "active"), ("old", "expired")]
    assert {old[:10], new[:10]} <= {t.prefix for t in list_tokens(session, ADMIN)}


def test_a_deactivated_accounts_tokens_stop_and_it_gets_no_new_ones(
        session: Any, env: Any, account: Any) -> None:
    token = create_token(session, env, ADMIN, EMAIL, "sync")
    set_active(session, env, ADMIN, account.id, False)
    assert user_for_token(session, env, token) is None
    assert token_state(_row(session, token), env.now) == "user_deactivated"
    with pytest.raises(ValidationError) as refused:
        create_token(session, env, ADMIN, EMAIL, "another")
    assert "email" in refused.value.errors


def test_a_staff_name_with_a_direction_override_is_refused(session: Any, env: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        create_user(session, env, ADMIN, "odd@clinic.example", "coordinator", "a long passphrase", "Ann\u202eeB")
    assert "U+202E" in refused.value.errors["name"]
