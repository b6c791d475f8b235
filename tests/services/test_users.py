from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from pathway.models import ApiToken, User
from pathway.services.base import Actor, Forbidden, ValidationError
from pathway.services.users import authenticate, create_token, create_user, user_for_token
from tests.conftest import at

ADMIN = Actor(role="admin", label="test")


def test_passwords_are_argon2_hashes_and_check_correctly(session, env) -> None:
    u = create_user(session, env, ADMIN, "Nurse@Clinic.Example", "coordinator", "a long passphrase")
    assert u.email == "nurse@clinic.example" and u.password_hash.startswith("$argon2id$")
    assert authenticate(session, env, "nurse@clinic.example", "a long passphrase") is u
    assert authenticate(session, env, "nurse@clinic.example", "wrong") is None
    assert authenticate(session, env, "nobody@clinic.example", "a long passphrase") is None


def test_repeated_failed_logins_slow_the_account_down(session, env) -> None:
    create_user(session, env, ADMIN, "doc@clinic.example", "clinician", "a long passphrase")
    for _ in range(3):
        assert authenticate(session, env, "doc@clinic.example", "guess") is None
    # Locked for a while: even the right password waits.
    assert authenticate(session, env, "doc@clinic.example", "a long passphrase") is None
    later = at(env, env.now + timedelta(minutes=1))
    assert authenticate(session, later, "doc@clinic.example", "a long passphrase") is not None


def test_user_creation_validates_and_needs_admin(session, env) -> None:
    with pytest.raises(ValidationError) as err:
        create_user(session, env, ADMIN, "not-an-email", "janitor", "short")
    assert set(err.value.errors) == {"email", "role", "password"}
    with pytest.raises(Forbidden):
        create_user(session, env, Actor(role="coordinator", user_id=1, label="user:1"), "x@y.example", "admin",
                    "a long passphrase")


def test_tokens_are_stored_hashed_and_identify_their_user(session, env) -> None:
    u = create_user(session, env, ADMIN, "api@clinic.example", "coordinator", "a long passphrase")
    token = create_token(session, env, ADMIN, "api@clinic.example")
    stored = session.scalars(select(ApiToken)).one()
    assert token not in (stored.token_hash, stored.prefix + "x") and len(stored.token_hash) == 64
    assert user_for_token(session, env, token) is u
    assert user_for_token(session, env, token + "x") is None
    stored.revoked_at = env.now
    assert user_for_token(session, env, token) is None
    assert session.scalar(select(User).where(User.id == u.id)) is u
