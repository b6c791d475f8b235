"""Test database and builders.

The database is chosen by ``PATHWAY_TEST_DATABASE_URL`` (a PostgreSQL URL) and defaults to a
SQLite file, so a newcomer without PostgreSQL still runs everything. Either way the schema is
built once per run with the real migrations, and each test runs inside a transaction that is
rolled back (the session works in a SAVEPOINT), so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import pytest
from argon2 import profiles
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from pathway import migrate
from pathway.db import make_engine, normalise_url
from pathway.services.base import Actor, Clinic, Env, Rules
from pathway.services.users import set_password_parameters
from pathway.timeline import QuietHours, Role

# Thousands of throwaway passwords: hash them with argon2's cheapest profile, not the strong
# production one (tests/services/test_users.py checks production keeps the strong one).
set_password_parameters(profiles.CHEAPEST)

T0 = datetime(2027, 2, 1, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in New York


class ScratchDatabase:
    """A database of its own for one test run (or one test), dropped afterwards."""

    def __init__(self, base_url: str | None, tmp: Path) -> None:
        self.base_url = base_url
        if base_url:
            url = make_url(normalise_url(base_url))
            self.name = f"pathway_t_{uuid.uuid4().hex[:10]}"
            self.admin_url = url
            with self._admin() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            self.url = url.set(database=self.name).render_as_string(hide_password=False)
        else:
            self.name = None
            self.url = f"sqlite:///{tmp / f'pathway-{uuid.uuid4().hex[:8]}.db'}"

    def _admin(self) -> Any:
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT", poolclass=None)
        return engine.connect()

    def drop(self) -> None:
        if self.name:
            with self._admin() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))


def test_database_url() -> str | None:
    return os.environ.get("PATHWAY_TEST_DATABASE_URL") or None


@pytest.fixture(scope="session")
def scratch_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScratchDatabase]:
    db = ScratchDatabase(test_database_url(), tmp_path_factory.mktemp("db"))
    try:
        yield db
    finally:
        db.drop()


@pytest.fixture
def fresh_db(tmp_path: Path) -> Iterator[ScratchDatabase]:
    """An empty database of its own, for tests that migrate or need several processes."""
    db = ScratchDatabase(test_database_url(), tmp_path)
    try:
        yield db
    finally:
        db.drop()


@pytest.fixture(scope="session")
def engine(scratch_db: ScratchDatabase) -> Iterator[Engine]:
    eng = make_engine(scratch_db.url)
    migrate.upgrade(scratch_db.url, engine=eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    connection = engine.connect()
    outer = connection.begin()
    s = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield s
    finally:
        s.close()
        outer.rollback()
        connection.close()


@pytest.fixture(scope="session")
def rules() -> Rules:
    return Rules.load(Clinic("Riverside Spine & Pain", "+15555550100", "America/New_York"),
                      QuietHours(time(8, 0), time(20, 0)))


@pytest.fixture
def env(rules: Rules) -> Env:
    return Env(rules=rules, now=T0)


def at(env: Env, when: datetime) -> Env:
    """The same surroundings at another instant."""
    return replace(env, now=when)


@pytest.fixture
def staff(session: Session, env: Env) -> dict[str, Actor]:
    from pathway.services.users import create_user

    admin = Actor(role=Role.ADMIN, label="test")
    out = {}
    for role in Role:
        u = create_user(session, env, admin, f"{role}@example.test", role, "correct horse battery", role.title())
        out[role] = Actor.for_user(u)
    return out


@pytest.fixture
def make_patient(session: Session, env: Env, staff: dict[str, Actor]) -> Callable[..., Any]:
    from pathway.services.patients import enrol_patient

    counter = iter(range(1, 10_000))

    def build(**overrides: Any) -> Any:
        n = next(counter)
        data = {
            "mrn": f"T{n:05d}", "given_name": "Pat", "family_name": f"Example{n}", "birth_date": "1950-04-30",
            "phone": f"+1 212 555 {n % 10000:04d}", "timezone": "America/New_York", "language": "en",
            "sms_consent": True,
        }
        data.update(overrides.pop("data", {}))
        use_env = overrides.pop("env", env)
        data.update(overrides)
        return enrol_patient(session, use_env, staff["coordinator"], data)

    return build


@pytest.fixture
def make_episode(
    session: Session, env: Env, staff: dict[str, Actor], make_patient: Callable[..., Any]
) -> Callable[..., Any]:
    from pathway.services.episodes import schedule_episode

    def build(patient: Any = None, **overrides: Any) -> Any:
        patient = patient or make_patient()
        use_env = overrides.pop("env", env)
        data = {"procedure_at": "2027-03-10T08:00", "facility": "Riverside Surgery Center",
                "proceduralist": "Dr. Lee", "levels": "L4-L5", "holds": []}
        data.update(overrides)
        return schedule_episode(session, use_env, staff["coordinator"], patient.id, data)

    return build
