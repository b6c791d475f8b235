"""What every use case shares: who is acting, the injected time and rules, errors, audit."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from pathway.models import AuditEvent, Patient
from pathway.schemas.base import InputModel, InvalidInput
from pathway.schemas.fields import Context
from pathway.schemas.inputs import VersionIn
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


class StaleVersion(Conflict):
    """A change made from an older version of a record than the stored one: someone else changed
    it meanwhile. Nothing is changed; the caller reloads, sees what changed, and decides again."""

    def __init__(self, record: str, record_id: int, given: int, current: int) -> None:
        super().__init__(f"someone else changed this {record} since you loaded it (you sent version {given}; it is "
                         f"now version {current}); nothing was changed: reload it, check what changed and try again")
        self.record = record
        self.record_id = record_id
        self.given = given
        self.current = current


def check_version(record: Any, data: Mapping[str, Any] | InputModel | int | None, what: str) -> None:
    """Refuse a change made from another version of ``record`` (a patient or an episode) than the
    stored one. ``data``: the request's body (its ``version``), or the version itself; no version:
    the caller did not say, so nothing is checked."""
    given = given_version(data)
    if given is not None and given != record.version:
        raise StaleVersion(what, record.id, given, record.version)


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
    # The app's public address ([web] public_url): calendar links are given under it.
    public_url: str = ""

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
    row = {"at": env.now, "user_id": actor.user_id, "actor": actor.label, "action": action,
           "entity_type": entity_type, "entity_id": entity_id, "patient_id": patient_id,
           "remote_addr": actor.remote_addr, "detail": detail}
    batch = session.info.get(_AUDIT_BATCH)
    if batch is not None:
        batch.append(row)
    else:
        session.add(AuditEvent(**row))


# The session.info key of the audit rows kept back by `audit_batch`.
_AUDIT_BATCH = "pathway.audit_batch"
_AUDIT = cast(Table, AuditEvent.__table__)


@contextmanager
def audit_batch(session: Session) -> Iterator[None]:
    """Within: ``audit`` keeps its rows back, and they are stored, in order, when the block ends
    without an error, by one executemany instead of one INSERT each in the unit of work (`pathway
    import schedule` audits 20,000 changes). An error drops them, and the caller rolls back the
    rest of the block's work. Nothing in the block may read the audit trail; blocks do not nest."""
    if _AUDIT_BATCH in session.info:
        raise RuntimeError("audit_batch blocks do not nest")
    rows: list[dict[str, Any]] = []
    session.info[_AUDIT_BATCH] = rows
    try:
        yield
    finally:
        del session.info[_AUDIT_BATCH]
    if rows:  # a detail of None is stored as the ORM stores it: JSON 'null'
        session.connection().execute(insert(_AUDIT), rows)


# Ids are the database's INTEGER (4 bytes on PostgreSQL): a larger number names no record, and
# binding it would fail in the database (PostgreSQL: "integer out of range"), so it is a 404 here.
MAX_ID = 2**31 - 1


def record_denied(
    session: Session, env: Env, actor: Actor, *, method: str, route: str, args: Mapping[str, Any], reason: str,
) -> None:
    """Audit a refused attempt (a role that may not do something, a forged webhook): who, from
    where, which route and ids, and why. The record's patient is named when the route names an
    existing patient, so the patient's audit trail shows who tried to reach it."""
    ids = {k: v for k, v in args.items() if isinstance(v, int) and not isinstance(v, bool)}
    patient_id = ids.get("patient_id")
    if patient_id is not None and not (0 < patient_id <= MAX_ID and session.get(Patient, patient_id) is not None):
        patient_id = None
    audit(session, env, actor, "access.denied", "route", None, patient_id=patient_id,
          detail={"method": method, "route": route, "ids": ids, "reason": reason})


def get_or_404(session: Session, model: type, id_: Any, what: str, *, lock: bool = False,
               cached: bool = False) -> Any:
    """``cached``: a row this session already holds is taken as it is, without a SELECT (a patient
    just enrolled in the same transaction, as `pathway import schedule` does 10,000 times)."""
    try:
        key = int(id_)
    except (TypeError, ValueError, OverflowError):
        raise NotFound(what) from None
    if not 1 <= key <= MAX_ID:
        raise NotFound(what)
    if cached and not lock:
        found = session.get(model, key)
        if found is None:
            raise NotFound(what)
        return found
    stmt: Any = select(model).where(model.id == key)  # type: ignore[attr-defined]
    if lock:
        stmt = stmt.with_for_update()
    obj = session.scalars(stmt).first()
    if obj is None:
        raise NotFound(what)
    return obj


def given_version(data: Mapping[str, Any] | InputModel | int | None) -> int | None:
    """The ``version`` a body carries (a 422 names it when it is not a version)."""
    if data is None or isinstance(data, int):
        return data
    if isinstance(data, InputModel):
        version: int | None = getattr(data, "version", None)
        return version
    return read_input(VersionIn, {"version": data.get("version")}).version


# --- input ---------------------------------------------------------------------------------

M = TypeVar("M", bound=InputModel)


def read_input(model: type[M], data: Mapping[str, Any] | M, context: Context | None = None) -> M:
    """``data`` (a JSON body, a form, or a model already read) as ``model``, or a ValidationError
    naming every bad field. The same model serves the API and the pages."""
    try:
        return model.read(data, context)
    except InvalidInput as exc:
        raise ValidationError(exc.errors) from None

