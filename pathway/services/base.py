"""What every use case shares: who is acting, the injected time and rules, errors, audit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathway.models import AuditEvent
from pathway.timeline import (
    Catalogue,
    PathwayDefinition,
    QuietHours,
    TemplateSet,
    load_catalogue,
    load_definition,
)


class ServiceError(Exception):
    status = 400


class ValidationError(ServiceError):
    """Bad input. ``errors`` maps each bad field to what is wrong and how to fix it."""

    status = 422

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class NotFound(ServiceError):
    status = 404

    def __init__(self, what: str = "record") -> None:
        super().__init__(f"{what} not found")


class Forbidden(ServiceError):
    status = 403

    def __init__(self, why: str = "your role may not do this") -> None:
        super().__init__(why)


class Conflict(ServiceError):
    status = 409


@dataclass(frozen=True)
class Actor:
    """Who is acting. ``label`` goes into audit rows and message events, never a name."""

    role: str  # coordinator | clinician | admin | system
    user_id: int | None = None
    label: str = "system"
    remote_addr: str | None = None

    @classmethod
    def for_user(cls, user: Any, remote_addr: str | None = None) -> Actor:
        return cls(role=user.role, user_id=user.id, label=f"user:{user.id}", remote_addr=remote_addr)

    def require(self, *roles: str) -> None:
        if self.role != "system" and self.role not in roles:
            raise Forbidden(f"needs the {' or '.join(roles)} role")


SYSTEM = Actor(role="system", label="system")


@dataclass(frozen=True)
class Clinic:
    name: str
    phone: str
    timezone: str

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Rules:
    """The clinical data and the wording, loaded once per process."""

    definition: PathwayDefinition
    catalogue: Catalogue
    templates: TemplateSet
    quiet: QuietHours
    clinic: Clinic

    @classmethod
    def load(cls, clinic: Clinic, quiet: QuietHours) -> Rules:
        return cls(
            definition=load_definition(),
            catalogue=load_catalogue(),
            templates=TemplateSet.load(),
            quiet=quiet,
            clinic=clinic,
        )


@dataclass
class Env:
    """One unit of work's surroundings: the rules and the instant it happens at."""

    rules: Rules
    now: datetime
    extra: dict[str, Any] = field(default_factory=dict)


def audit(
    session: Session,
    env: Env,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: int | None,
    *,
    patient_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEvent(
            at=env.now,
            user_id=actor.user_id,
            actor=actor.label,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            patient_id=patient_id,
            remote_addr=actor.remote_addr,
            detail=detail,
        )
    )


def get_or_404(session: Session, model: type, id_: Any, what: str, *, lock: bool = False) -> Any:
    try:
        key = int(id_)
    except (TypeError, ValueError):
        raise NotFound(what) from None
    stmt = select(model).where(model.id == key)  # type: ignore[attr-defined]
    if lock:
        stmt = stmt.with_for_update()
    obj = session.scalars(stmt).first()
    if obj is None:
        raise NotFound(what)
    return obj


# --- small parsers shared by the use cases; each returns a value or records an error ---------

_ZONES: frozenset[str] | None = None


def parse_zone(errors: dict[str, str], field_: str, raw: Any) -> str | None:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    if not isinstance(raw, str) or raw not in _ZONES:
        errors[field_] = f"not a known IANA time zone: {raw!r} (for example America/Chicago)"
        return None
    try:
        ZoneInfo(raw)
    except ZoneInfoNotFoundError:  # pragma: no cover
        errors[field_] = f"not a known IANA time zone: {raw!r}"
        return None
    return raw


def parse_date(errors: dict[str, str], field_: str, raw: Any, *, required: bool = True) -> date | None:
    if raw in (None, ""):
        if required:
            errors[field_] = "required: a date like 1950-04-30"
        return None
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        errors[field_] = f"not a date: {raw!r} (use YYYY-MM-DD)"
        return None


def parse_text(
    errors: dict[str, str], field_: str, raw: Any, *, required: bool = True, max_len: int = 200
) -> str:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            errors[field_] = "required"
        return ""
    if not isinstance(raw, str):
        errors[field_] = "must be text"
        return ""
    value = raw.strip()
    if len(value) > max_len:
        errors[field_] = f"too long: at most {max_len} characters"
    return value


def parse_bool(errors: dict[str, str], field_: str, raw: Any, default: bool = False) -> bool:
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in {"true", "1", "yes", "on", "y"}:
        return True
    if isinstance(raw, str) and raw.lower() in {"false", "0", "no", "off", "n"}:
        return False
    errors[field_] = "must be true or false"
    return default


def parse_int(
    errors: dict[str, str], field_: str, raw: Any, *, minimum: int = 0, maximum: int = 10_000
) -> int | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, bool):
        errors[field_] = "must be a whole number"
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        errors[field_] = f"must be a whole number, got {raw!r}"
        return None
    if not minimum <= value <= maximum:
        errors[field_] = f"must be between {minimum} and {maximum}"
        return None
    return value
