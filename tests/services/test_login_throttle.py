"""Sign-in refusals look and cost the same, and throttling slows an attacker without letting a
stranger lock a user out (issue 13). Time is the injected clock: no sleeps."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from pathway.models import AuditEvent, LoginThrottle
from pathway.services import users
from pathway.services.users import FREE_ADDRESS_FAILURES, FREE_FAILURES, authenticate, set_active
from tests.conftest import at

EMAIL = "coordinator@example.test"
PASSWORD = "correct horse battery"
HOME, ATTACKER, CAFE = "198.51.100.10", "203.0.113.66", "192.0.2.44"


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every argon2 verification made, by which hash it was checked against."""
    seen: list[str] = []
    real = users._password_matches

    def spy(stored_hash: str, password: str) -> bool:
        seen.append("dummy" if stored_hash == users._dummy_hash() else "real")
        return real(stored_hash, password)

    monkeypatch.setattr(users, "_password_matches", spy)
    return seen


def _fail_times(session: Any, env: Any, n: int, email: str = EMAIL, addr: str = ATTACKER) -> None:
    for _ in range(n):
        assert authenticate(session, env, email, "guess", addr) is None


def test_every_refusal_costs_exactly_one_password_check(session: Any, env: Any, staff: Any,
                                                        checks: list[str]) -> None:
    assert authenticate(session, env, "nobody@example.test", PASSWORD, HOME) is None
    assert authenticate(session, env, EMAIL, "wrong", HOME) is None
    set_active(session, env, staff["admin"], staff["clinician"].user_id, False)
    assert authenticate(session, env, "clinician@example.test", PASSWORD, HOME) is None
    _fail_times(session, env, FREE_FAILURES)  # now throttled from ATTACKER
    checks.clear()
    assert authenticate(session, env, EMAIL, PASSWORD, ATTACKER) is None  # throttled, right password
    assert authenticate(session, env, EMAIL, PASSWORD, HOME) is not None
    assert checks == ["dummy", "real"]


def test_unknown_deactivated_and_throttled_are_checked_against_the_dummy_hash(
        session: Any, env: Any, staff: Any, checks: list[str]) -> None:
    authenticate(session, env, "nobody@example.test", PASSWORD, HOME)
    set_active(session, env, staff["admin"], staff["clinician"].user_id, False)
    authenticate(session, env, "clinician@example.test", PASSWORD, HOME)
    authenticate(session, env, EMAIL, "wrong", HOME)
    assert checks == ["dummy", "dummy", "real"]


def test_failures_from_one_address_do_not_lock_the_user_out_elsewhere(session: Any, env: Any, staff: Any) -> None:
    _fail_times(session, env, 50)
    assert authenticate(session, env, EMAIL, PASSWORD, ATTACKER) is None  # the attacker's pair waits
    assert authenticate(session, env, EMAIL, PASSWORD, HOME) is not None  # the user, elsewhere, gets in
    assert authenticate(session, env, EMAIL, PASSWORD, CAFE) is not None  # from a new address too


def test_failures_on_one_account_from_one_address_wait_longer_each_time(session: Any, env: Any,
                                                                        staff: Any) -> None:
    _fail_times(session, env, FREE_FAILURES)
    row = session.get(LoginThrottle, f"user:{staff['coordinator'].user_id}@{ATTACKER}")
    assert row.locked_until == env.now + timedelta(seconds=5)
    later = at(env, env.now + timedelta(seconds=6))
    _fail_times(session, later, 1)
    assert row.locked_until == later.now + timedelta(seconds=10)
    assert authenticate(session, at(later, later.now + timedelta(seconds=9)), EMAIL, PASSWORD, ATTACKER) is None
    assert authenticate(session, at(later, later.now + timedelta(seconds=11)), EMAIL, PASSWORD, ATTACKER) is not None
    session.flush()
    assert session.get(LoginThrottle, row.key) is None  # a success forgets the pair's failures


def test_the_longest_wait_is_fifteen_minutes(session: Any, env: Any, staff: Any) -> None:
    now = env
    for _ in range(FREE_FAILURES + 12):
        _fail_times(session, now, 1)
        row = session.get(LoginThrottle, f"user:{staff['coordinator'].user_id}@{ATTACKER}")
        now = at(now, row.locked_until or now.now)
    assert row.locked_until - row.last_failure_at == timedelta(minutes=15)


def test_many_failures_from_one_address_slow_every_account_tried_from_it(session: Any, env: Any,
                                                                         staff: Any) -> None:
    for n in range(FREE_ADDRESS_FAILURES):
        assert authenticate(session, env, f"guess{n}@example.test", "guess", ATTACKER) is None
    # The address now waits, whatever account it tries, even with a right password ...
    assert authenticate(session, env, "clinician@example.test", PASSWORD, ATTACKER) is None
    # ... while everyone else signs in as usual, and the address may try again after the wait.
    assert authenticate(session, env, "clinician@example.test", PASSWORD, HOME) is not None
    after = at(env, env.now + timedelta(seconds=6))
    assert authenticate(session, after, "clinician@example.test", PASSWORD, ATTACKER) is not None


def test_attempts_while_waiting_do_not_lengthen_the_wait(session: Any, env: Any, staff: Any) -> None:
    _fail_times(session, env, FREE_FAILURES)
    row = session.get(LoginThrottle, f"user:{staff['coordinator'].user_id}@{ATTACKER}")
    until = row.locked_until
    _fail_times(session, env, 10)
    assert row.locked_until == until and row.failures == FREE_FAILURES


def test_old_failures_are_forgotten_after_an_hour(session: Any, env: Any, staff: Any) -> None:
    _fail_times(session, env, FREE_FAILURES - 1)
    _fail_times(session, at(env, env.now + timedelta(hours=1, minutes=1)), FREE_FAILURES - 1)
    row = session.get(LoginThrottle, f"user:{staff['coordinator'].user_id}@{ATTACKER}")
    assert row.failures == FREE_FAILURES - 1 and row.locked_until is None


def test_failed_and_successful_sign_ins_are_audited_without_passwords_or_typed_emails(
        session: Any, env: Any, staff: Any) -> None:
    authenticate(session, env, "Nobody.Secret@example.test", "hunter2-secret", ATTACKER)
    authenticate(session, env, EMAIL, "hunter2-secret", ATTACKER)
    set_active(session, env, staff["admin"], staff["clinician"].user_id, False)
    authenticate(session, env, "clinician@example.test", PASSWORD, ATTACKER)
    _fail_times(session, env, FREE_FAILURES - 1)
    authenticate(session, env, EMAIL, PASSWORD, ATTACKER)  # throttled now
    authenticate(session, env, EMAIL, PASSWORD, HOME)
    rows = session.scalars(select(AuditEvent).where(AuditEvent.action.in_(("login", "login.failed")))
                           .order_by(AuditEvent.id)).all()
    uid, cid = staff["coordinator"].user_id, staff["clinician"].user_id
    seen = [(r.action, r.entity_id, r.remote_addr, (r.detail or {}).get("reason")) for r in rows]
    assert seen == [
        ("login.failed", None, ATTACKER, "unknown_account"),
        ("login.failed", uid, ATTACKER, "wrong_password"),
        ("login.failed", cid, ATTACKER, "deactivated"),
        ("login.failed", uid, ATTACKER, "wrong_password"),
        ("login.failed", uid, ATTACKER, "wrong_password"),
        ("login.failed", uid, ATTACKER, "throttled"),
        ("login", uid, HOME, None),
    ]
    text = repr([(r.actor, r.detail) for r in rows])
    assert "hunter2" not in text and "secret" not in text.lower() and "@" not in text
