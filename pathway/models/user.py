from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pathway.db import Base, check_in
from pathway.timeline.vocabulary import Role


class User(Base):
    __tablename__ = "users"
    __table_args__ = (check_in("role", Role),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Failed logins in a row (informational; the throttle lives in login_throttles).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    # No longer set: a lock per account let anyone lock a user out (see LoginThrottle).
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # Every signed-in session carries the generation it began in; raising it (sign-out, password
    # change, deactivation, an admin's "sign out everywhere") ends them all at once.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", cascade="all, delete-orphan")


class ApiToken(Base):
    """A bearer token for the JSON API; only its SHA-256 is stored. It has a name (what it is
    for), ends at ``expires_at`` and can be revoked earlier; either answers 401 at once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(60), default="", server_default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")


class LoginThrottle(Base):
    """Failed sign-ins counted per client address (``addr:<ip>``) and per account from one address
    (``user:<id>@<ip>``), so a stranger elsewhere cannot lock a user out. Rows age out."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]
