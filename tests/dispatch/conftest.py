"""Dispatch tests need committed rows: the dispatcher opens its own sessions, as in production.

One migrated database per run; every test leaves it empty again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from pathway import migrate
from pathway.app import create_app
from pathway.clock import FixedClock
from pathway.config import load_config
from pathway.db import Base, make_engine, make_session_factory
from pathway.dispatch.run import Dispatcher
from pathway.dispatch.settings import DispatchSettings
from pathway.runtime import Runtime
from pathway.services.base import Actor, Env, Rules
from tests.conftest import T0, ScratchDatabase, test_database_url
from tests.fakes.fixtures import FROM_NUMBER, fake_twilio, twilio_transport_factory  # noqa: F401

PUBLIC_URL = "https://pathway.clinic.example"


@pytest.fixture(scope="session")
def outbox_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScratchDatabase]:
    db = ScratchDatabase(test_database_url(), tmp_path_factory.mktemp("outbox"))
    migrate.upgrade(db.url)
    try:
        yield db
    finally:
        db.drop()


@pytest.fixture
def sessions(outbox_db: ScratchDatabase) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(outbox_db.url)
    factory = make_session_factory(engine)
    try:
        yield factory
    finally:
        with factory.begin() as s:
            for table in reversed(Base.metadata.sorted_tables):
                s.execute(delete(table))
        engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def config(outbox_db: ScratchDatabase, fake_twilio: Any) -> Any:  # noqa: F811
    return load_config(env={"TWILIO_ACCOUNT_SID": fake_twilio.account_sid, "TWILIO_AUTH_TOKEN": fake_twilio.auth_token},
                       overrides={"database": {"url": outbox_db.url},
                                  "web": {"public_url": PUBLIC_URL},
                                  "sms": {"backend": "twilio", "from_number": FROM_NUMBER,
                                          "api_base_url": fake_twilio.base_url, "timeout_seconds": 1.0,
                                          "rate_limit": False},
                                  "dispatch": {"backoff_base_seconds": 30, "reconcile_grace_seconds": 300,
                                               "max_attempts": 4, "concurrency": 1}})


@pytest.fixture
def seed(sessions: sessionmaker[Session], rules: Rules, clock: FixedClock) -> Callable[..., Any]:
    """Run a service function in its own committed transaction, at the clock's time."""

    def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with sessions.begin() as s:
            result = fn(s, Env(rules=rules, now=clock()), *args, **kwargs)
            s.flush()
            return result.id if hasattr(result, "id") else result

    return run


@pytest.fixture
def people(seed: Callable[..., Any]) -> dict[str, Actor]:
    from pathway.services.users import create_user

    admin = Actor(role="admin", label="test")
    out = {}
    for role in ("coordinator", "clinician"):
        uid = seed(create_user, admin, f"{role}@example.test", role, "correct horse battery")
        out[role] = Actor(role=role, user_id=uid, label=f"user:{uid}")
    return out


@pytest.fixture
def enrol(seed: Callable[..., Any], people: dict[str, Actor]) -> Callable[..., int]:
    from pathway.services.patients import enrol_patient

    n = iter(range(1, 100_000))

    def make(**overrides: Any) -> int:
        i = next(n)
        data = {"mrn": f"D{i:05d}", "given_name": "Pat", "family_name": f"Dispatch{i}", "birth_date": "1950-01-01",
                "phone": f"+1 212 555 {i % 10000:04d}", "timezone": "America/New_York", "language": "en",
                "sms_consent": True}
        data.update(overrides)
        return int(seed(enrol_patient, people["coordinator"], data))

    return make


@pytest.fixture
def make_dispatcher(sessions: sessionmaker[Session], rules: Rules, clock: FixedClock, config: Any,
                    twilio_transport_factory: Any) -> Iterator[Callable[..., Dispatcher]]:  # noqa: F811
    made: list[Dispatcher] = []

    def make(transport: Any = None, worker_id: str = "w1", **setting_overrides: Any) -> Dispatcher:
        transport = transport or twilio_transport_factory()
        settings = DispatchSettings.from_config(config, None)
        if setting_overrides:
            from dataclasses import replace

            settings = replace(settings, **setting_overrides)

        def sleep(seconds: float) -> None:  # waiting for a rate slot moves simulated time
            clock.advance(timedelta(seconds=seconds))

        d = Dispatcher(sessions=sessions, transport=transport, settings=settings, rules=rules, clock=clock,
                       worker_id=worker_id, sleep=sleep)
        made.append(d)
        return d

    yield make
    for d in made:  # their recorder threads hand back their connections before the tables are emptied
        d.close()


@pytest.fixture
def app(config: Any, sessions: sessionmaker[Session], clock: FixedClock) -> Any:
    """The web app on the dispatch tests' database and clock (the signed webhooks)."""
    rt = Runtime.build(config, clock=clock, engine=sessions.kw["bind"])
    return create_app(runtime=rt, TESTING=True)


_sids = iter(range(1, 1_000_000))


def text_in(app: Any, fake: Any, body: str, from_: str = "+12125550001") -> str:
    """A patient's text through the signed inbound webhook; the TwiML answer's words."""
    params = {"From": from_, "To": "+15005550006", "Body": body, "MessageSid": f"SMi{next(_sids):08d}",
              "AccountSid": fake.account_sid}
    path = "/webhooks/twilio/inbound"
    sig = RequestValidator(fake.auth_token).compute_signature(PUBLIC_URL + path, params)
    r = app.test_client().post(path, data=params, headers={"X-Twilio-Signature": sig})
    assert r.status_code == 200, r.get_data(as_text=True)
    return str(r.get_data(as_text=True))
