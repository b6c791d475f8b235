"""Staff accounts and API tokens. Passwords are argon2id hashes; tokens are stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from pathway.models import ApiToken, LoginThrottle, User
from pathway.schemas.fields import Context
from pathway.schemas.inputs import PasswordIn, TokenIn, UserIn
from pathway.services.base import (
    Actor,
    Env,
    Forbidden,
    NotFound,
    ValidationError,
    audit,
    get_or_404,
    read_input,
)
from pathway.timeline.vocabulary import Role

# Passwords are hashed with argon2id in RFC 9106's second recommended profile (t=3, 64 MiB, p=4),
# argon2-cffi's own default. Only the tests choose otherwise (set_password_parameters).
STRONG_PASSWORD_PARAMETERS = profiles.RFC_9106_LOW_MEMORY
_hasher = PasswordHasher.from_parameters(STRONG_PASSWORD_PARAMETERS)


def set_password_parameters(parameters: Parameters) -> None:
    """Hash passwords with ``parameters`` from now on (a stored hash keeps its own parameters).

    For the test suite, which hashes thousands of throwaway passwords: it passes argon2's
    cheapest profile. Production never calls this and keeps the strong default above.
    """
    global _hasher
    _hasher = PasswordHasher.from_parameters(parameters)  # the dummy hash follows (_dummy_hash)


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


# --- signing in ------------------------------------------------------------------------------
#
# Every attempt costs one argon2 verification, whatever happens: an unknown email, a deactivated
# account or a throttled attempt is checked against a dummy hash, so neither the answer nor its
# time tells them apart. Failures are counted per client address and per (account, address), never
# per account alone: a stranger elsewhere cannot lock a user out, and a correct password from an
# address with no failures always works.

# After this many failures from one address on one account, that pair waits (5 s, doubling, at most
# 15 minutes) ...
FREE_FAILURES = 3
# ... and after this many failures from one address, whatever the accounts, the address waits.
FREE_ADDRESS_FAILURES = 20
FIRST_WAIT = timedelta(seconds=5)
LONGEST_WAIT = timedelta(minutes=15)
# Failures older than this are forgotten (the count starts again).
FAILURE_WINDOW = timedelta(hours=1)

_dummy: tuple[PasswordHasher, str] | None = None


def _dummy_hash() -> str:
    """A hash of a random secret with the current parameters (made once per parameter set)."""
    global _dummy
    if _dummy is None or _dummy[0] is not _hasher:
        _dummy = (_hasher, _hasher.hash(secrets.token_urlsafe(16)))
    return _dummy[1]


def _password_matches(stored_hash: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(stored_hash, password or ""))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _address_key(remote_addr: str | None) -> str:
    return f"addr:{remote_addr or '-'}"


def _pair_key(user_id: int, remote_addr: str | None) -> str:
    return f"user:{user_id}@{remote_addr or '-'}"


def _throttle_row(session: Session, env: Env, key: str) -> LoginThrottle | None:
    row = session.get(LoginThrottle, key)
    if row is not None and env.now - row.last_failure_at > FAILURE_WINDOW and not _waiting(row, env):
        row.failures = 0  # an old run of failures is forgotten
        row.locked_until = None
    return row


def _waiting(row: LoginThrottle | None, env: Env) -> bool:
    return row is not None and row.locked_until is not None and row.locked_until > env.now


def _count_failure(session: Session, env: Env, key: str, row: LoginThrottle | None, free: int) -> None:
    if row is None:
        row = LoginThrottle(key=key, failures=0, last_failure_at=env.now, locked_until=None)
        try:
            with session.begin_nested():  # another request may have made the same row a moment ago
                session.add(row)
                session.flush()
        except IntegrityError:
            row = session.get(LoginThrottle, key, populate_existing=True)
            if row is None:  # pragma: no cover (the row that collided is gone again)
                return
    row.failures += 1
    row.last_failure_at = env.now
    if row.failures >= free:
        row.locked_until = env.now + min(FIRST_WAIT * 2 ** (row.failures - free), LONGEST_WAIT)


def _forget_old_failures(session: Session, env: Env) -> None:
    session.execute(delete(LoginThrottle).where(
        LoginThrottle.last_failure_at < env.now - 24 * FAILURE_WINDOW,
        (LoginThrottle.locked_until.is_(None)) | (LoginThrottle.locked_until < env.now)))


def authenticate(session: Session, env: Env, email: str, password: str, remote_addr: str | None = None) -> User | None:
    """Check a password. Every refusal looks and takes the same; the audit records which it was."""
    user = find_user(session, email)
    address = _throttle_row(session, env, _address_key(remote_addr))
    pair = _throttle_row(session, env, _pair_key(user.id, remote_addr)) if user is not None else None
    throttled = _waiting(address, env) or _waiting(pair, env)
    if user is not None and user.active and not throttled:
        matches = _password_matches(user.password_hash, password)
    else:
        _password_matches(_dummy_hash(), password)  # spend the same time as a real check
        matches = False
    if user is not None and matches:
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.failed_logins = 0
        user.locked_until = None
        if pair is not None:
            session.delete(pair)
        audit(session, env, Actor.for_user(user, remote_addr), "login", "user", user.id)
        return user
    reason = ("unknown_account" if user is None else "deactivated" if not user.active
              else "throttled" if throttled else "wrong_password")
    if not throttled:  # waiting attempts are refused unchecked and do not lengthen the wait
        _count_failure(session, env, _address_key(remote_addr), address, FREE_ADDRESS_FAILURES)
        if user is not None:
            _count_failure(session, env, _pair_key(user.id, remote_addr), pair, FREE_FAILURES)
            user.failed_logins += 1
        _forget_old_failures(session, env)
    # The email typed is never stored: a known account is named by its id, an unknown one not at all.
    audit(session, env, Actor(role="system", label="login", remote_addr=remote_addr), "login.failed", "user",
          user.id if user is not None else None, detail={"reason": reason})
    return None


# --- ending sessions -------------------------------------------------------------------------


def _end_sessions(user: User) -> None:
    user.session_generation = (user.session_generation or 0) + 1


def sign_out(session: Session, env: Env, actor: Actor) -> None:
    """Sign the acting user out: every session of theirs ends (a copied cookie stops working)."""
    if actor.user_id is None:
        return
    user = session.get(User, actor.user_id)
    if user is None:
        return
    _end_sessions(user)
    audit(session, env, actor, "logout", "user", user.id)


def end_sessions(session: Session, env: Env, actor: Actor, user_id: Any) -> User:
    """An admin's "sign out everywhere": every session of that account ends at once."""
    actor.require(Role.ADMIN)
    user: User = get_or_404(session, User, user_id, "user")
    _end_sessions(user)
    audit(session, env, actor, "user.sessions_ended", "user", user.id)
    return user


def set_password(session: Session, env: Env, actor: Actor, user_id: Any, password: str) -> User:
    """A new password (an admin's reset or one's own change); every session of the account ends."""
    user: User = get_or_404(session, User, user_id, "user")
    if actor.role not in ("system", Role.ADMIN) and actor.user_id != user.id:
        raise Forbidden("only an admin may set another account's password")
    data = read_input(PasswordIn, {"password": password})
    user.password_hash = hash_password(data.password)
    user.failed_logins = 0
    _end_sessions(user)
    audit(session, env, actor, "user.password_set", "user", user.id)
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# A token unused for this long has its last use written again (reads do not write every time).
LAST_USE_GRAIN = timedelta(minutes=5)
DEFAULT_TOKEN_DAYS = 90


def create_token(session: Session, env: Env, actor: Actor, email: str, name: str = "(unnamed)",
                 expires_in_days: int | None = None, *, default_days: int = DEFAULT_TOKEN_DAYS) -> str:
    """Make an API token for a user; return it once. Only its hash is kept.

    It is named (what it is for) and ends ``expires_in_days`` from now (``default_days``, the
    ``[web] api_token_days`` setting, when not given). Audited as ``token.create``.
    """
    actor.require(Role.ADMIN)
    data = read_input(TokenIn, {"name": name, "expires_in_days": expires_in_days})
    user = find_user(session, email)
    if user is None:
        raise NotFound(f"user {email}")
    if not user.active:
        raise ValidationError({"email": f"{user.email}'s account is deactivated; reactivate it first"})
    days = data.expires_in_days or default_days
    token = "pw_" + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=_token_hash(token), prefix=token[:10], name=data.name,
                   created_at=env.now, expires_at=env.now + timedelta(days=days))
    session.add(row)
    session.flush()
    audit(session, env, actor, "token.create", "api_token", row.id,
          detail={"user_id": user.id, "expires_at": row.expires_at.isoformat(), "days": days})
    return token


def token_state(row: ApiToken, now: datetime) -> str:
    """``active``, ``revoked``, ``expired`` or ``user_deactivated``: whether the token works now."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at <= now:
        return "expired"
    if not row.user.active:
        return "user_deactivated"
    return "active"


def user_for_token(session: Session, env: Env, token: str) -> User | None:
    """The token's user, or None when it is unknown, revoked, expired or its user deactivated."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token or "")))
    if row is None or token_state(row, env.now) != "active":
        return None
    if row.last_used_at is None or env.now - row.last_used_at > LAST_USE_GRAIN:
        row.last_used_at = env.now  # coarse, so reads do not write on every request
    return row.user


def list_tokens(session: Session, actor: Actor) -> list[ApiToken]:
    """Every API token, newest first, with its user (for the admin: never the secret, only its prefix)."""
    actor.require(Role.ADMIN)
    return list(session.scalars(select(ApiToken).options(joinedload(ApiToken.user))
                                .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def revoke_token(session: Session, env: Env, actor: Actor, token_id: Any) -> ApiToken:
    """End a token now: its next request answers 401. Revoking a revoked token changes nothing."""
    actor.require(Role.ADMIN)
    row: ApiToken = get_or_404(session, ApiToken, token_id, "API token")
    if row.revoked_at is None:
        row.revoked_at = env.now
        audit(session, env, actor, "token.revoke", "api_token", row.id, detail={"user_id": row.user_id})
    return row


def list_users(session: Session, actor: Actor) -> list[User]:
    actor.require(Role.ADMIN)
    return list(session.scalars(select(User).order_by(User.email)))


def set_active(session: Session, env: Env, actor: Actor, user_id: Any, active: bool) -> User:
    actor.require(Role.ADMIN)
    if not active and actor.user_id is not None and int(user_id) == actor.user_id:
        # Whoever calls (a page, the API, the CLI): an admin never locks themselves out.
        raise Forbidden("you cannot deactivate your own account; ask another admin")
    user: User = get_or_404(session, User, user_id, "user")
    user.active = active
    if not active:
        _end_sessions(user)  # a deactivated account's sessions end now, and stay ended if reactivated
    audit(session, env, actor, "user.activate" if active else "user.deactivate", "user", user.id)
    return user
