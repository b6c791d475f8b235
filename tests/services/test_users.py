from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from pathway.models import ApiToken, User
from pathway.services.base import Actor, Forbidden, ValidationError
from pathway.services.users import authenticate, create_token, create_user, list_users, user_for_token
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


def test_production_hashes_passwords_with_the_strong_argon2id_profile() -> None:
    # A fresh interpreter: the suite's conftest has switched this one to the cheap test profile.
    import subprocess
    import sys

    code = ("import argon2; from pathway.services.users import hash_password; "
            "p = argon2.extract_parameters(hash_password('a long passphrase')); "
            "print(p.type.name, p.time_cost, p.memory_cost, p.parallelism)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["ID", "3", "65536", "4"]  # argon2id, RFC 9106's low-memory profile: t=3, 64 MiB, p=4


def test_a_cheap_hash_from_the_tests_still_verifies_after_switching_to_strong(session, env) -> None:
    from argon2 import extract_parameters, profiles

    from pathway.services.users import STRONG_PASSWORD_PARAMETERS, set_password_parameters

    u = create_user(session, env, ADMIN, "cheap@clinic.example", "coordinator", "a long passphrase")
    assert extract_parameters(u.password_hash).memory_cost < STRONG_PASSWORD_PARAMETERS.memory_cost
    set_password_parameters(STRONG_PASSWORD_PARAMETERS)
    try:
        # The stored hash keeps its own parameters; signing in upgrades it to the strong ones.
        assert authenticate(session, env, "cheap@clinic.example", "a long passphrase") is u
        assert extract_parameters(u.password_hash) == STRONG_PASSWORD_PARAMETERS
    finally:
        set_password_parameters(profiles.CHEAPEST)


def test_a_taken_email_is_named_with_every_other_bad_field(session, env) -> None:
    create_user(session, env, ADMIN, "taken@clinic.example", "coordinator", "a long passphrase")
    with pytest.raises(ValidationError) as err:
        create_user(session, env, ADMIN, " Taken@Clinic.example ", "coordinator", "short")
    assert err.value.errors == {"email": "taken@clinic.example already has an account",
                                "password": "must be at least 10 characters"}


def test_only_an_admin_lists_the_staff_accounts(session, env) -> None:
    create_user(session, env, ADMIN, "listed@clinic.example", "coordinator", "a long passphrase")
    assert "listed@clinic.example" in [u.email for u in list_users(session, ADMIN)]
    for role in ("coordinator", "clinician"):
        with pytest.raises(Forbidden):
            list_users(session, Actor(role=role, user_id=1, label="user:1"))
