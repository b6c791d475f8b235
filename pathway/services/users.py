"""Staff accounts and API tokens. Passwords are argon2id hashes; tokens are stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathway.models import ApiToken, User
from pathway.schemas.fields import Context
from pathway.schemas.inputs import UserIn
from pathway.services.base import Actor, Env, Forbidden, NotFound, audit, read_input
from pathway.timeline.vocabulary import Role

# Passwords are hashed with argon2id in RFC 9106's second recommended profile (t=3, 64 MiB, p=4),
# argon2-cffi's own default. Only the tests choose otherwise (set_password_parameters).
STRONG_PASSWORD_PARAMETERS = profiles.RFC_9106_LOW_MEMORY
_hasher = PasswordHasher.from_parameters(STRONG_PASSWORD_PARAMETERS)
# After this many failures in a row an account waits, doubling each time (at most 15 minutes).
FREE_FAILURES = 3


def set_password_parameters(parameters: Parameters) -> None:
    """Hash passwords with ``parameters`` from now on (a stored hash keeps its own parameters).

    For the test suite, which hashes thousands of throwaway passwords: it passes argon2's
    cheapest profile. Production never calls this and keeps the strong default above.
    """
    global _hasher
    _hasher = PasswordHasher.from_parameters(parameters)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(session: Session, env: Env, actor: Actor, email: str, role: str, password: str, name: str = "") -> User:
    actor.require(Role.ADMIN)
    data = read_input(UserIn, {"email": email, "role": role, "password": password, "name": name}, Context(
        email_taken=lambda e: session.scalar(select(User.id).where(func.lower(User.email) == e)) is not None))
    user = User(email=data.email, role=data.role, name=data.name, password_hash=hash_password(data.password),
                active=True, failed_logins=0, created_at=env.now)
    session.add(user)
    session.flush()
    audit(session, env, actor, "user.create", "user", user.id, detail={"role": data.role})
    return user


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == (email or "").strip().lower()))


def authenticate(session: Session, env: Env, email: str, password: str, remote_addr: str | None = None) -> User | None:
    """Check a password. Failures slow the account down; the answer never says which part was wrong."""
    user = find_user(session, email)
    if user is None or not user.active:
        _hasher.hash(password or "x")  # spend the same time as a real check
        return None
    if user.locked_until is not None and user.locked_until > env.now:
        return None
    try:
        _hasher.verify(user.password_hash, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= FREE_FAILURES:
            wait = min(2 ** (user.failed_logins - FREE_FAILURES) * 5, 15 * 60)
            user.locked_until = env.now + timedelta(seconds=wait)
        audit(session, env, Actor(role="system", label="login", remote_addr=remote_addr), "login.failed", "user",
              user.id, detail={"failures": user.failed_logins})
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    audit(session, env, Actor.for_user(user, remote_addr), "login", "user", user.id)
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, env: Env, actor: Actor, email: str) -> str:
    """Make an API token for a user; return it once. Only its hash is kept."""
    actor.require(Role.ADMIN)
    user = find_user(session, email)
    if user is None:
        raise NotFound(f"user {email}")
    token = "pw_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_token_hash(token), prefix=token[:10], created_at=env.now))
    audit(session, env, actor, "token.create", "user", user.id)
    return token


def user_for_token(session: Session, env: Env, token: str) -> User | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token or "")))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    if row.last_used_at is None or env.now - row.last_used_at > timedelta(minutes=5):
        row.last_used_at = env.now  # coarse, so reads do not write on every request
    return row.user


def list_users(session: Session, actor: Actor) -> list[User]:
    actor.require(Role.ADMIN)
    return list(session.scalars(select(User).order_by(User.email)))


def set_active(session: Session, env: Env, actor: Actor, user_id: Any, active: bool) -> User:
    actor.require(Role.ADMIN)
    if not active and actor.user_id is not None and int(user_id) == actor.user_id:
        # Whoever calls (a page, the API, the CLI): an admin never locks themselves out.
        raise Forbidden("you cannot deactivate your own account; ask another admin")
    user = session.get(User, int(user_id))
    if user is None:
        raise NotFound("user")
    user.active = active
    audit(session, env, actor, "user.activate" if active else "user.deactivate", "user", user.id)
    return user
