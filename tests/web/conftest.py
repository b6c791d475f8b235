"""Fixtures for the staff pages: the real app over the test's own transaction.

The app's sessions join the test connection in SAVEPOINTs, so a view's ``commit`` is real for
the request and everything is rolled back when the test ends; the builders from the top-level
conftest (make_patient, make_episode) write into the same transaction the pages read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from pathway.app import create_app
from pathway.clock import FixedClock
from pathway.config import load_config
from pathway.runtime import Runtime
from pathway.services.base import Rules
from tests.conftest import T0

if TYPE_CHECKING:
    from tests.web.conftest_api import Harness

PASSWORD = "correct horse battery"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def web_clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def web_app_with(engine: Engine, session: Session, rules: Rules, web_clock: FixedClock, staff: Any) -> Any:
    """Build the app over the test's transaction with settings of its own: ``web_app_with(web={...})``."""

    def build(**sections: dict[str, Any]) -> Flask:
        config = load_config(env={}, overrides={
            "database": {"url": engine.url.render_as_string(hide_password=False)}, **sections})
        sessions = sessionmaker(bind=session.bind, join_transaction_mode="create_savepoint",
                                expire_on_commit=False, autoflush=True)
        runtime = Runtime(config=config, engine=engine, sessions=sessions, rules=rules, clock=web_clock)
        return create_app(runtime=runtime, TESTING=True, SECRET_KEY="test-secret")

    return build


@pytest.fixture
def web_app(web_app_with: Any) -> Iterator[Flask]:
    yield web_app_with()


class Browser:
    """A test client that signs in and carries the CSRF token like a browser would."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client: FlaskClient = app.test_client()
        self.token: str | None = None

    def get(self, url: str, **kw: Any) -> Any:
        response = self.client.get(url, **kw)
        found = _TOKEN.search(response.get_data(as_text=True))
        if found:
            self.token = found.group(1)
        return response

    def post(self, url: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kw: Any) -> Any:
        body = dict(data or {})
        if csrf:
            if self.token is None:
                self.get("/login")
            body.setdefault("csrf_token", self.token)
        return self.client.post(url, data=body, **kw)

    def login(self, email: str, password: str = PASSWORD) -> Any:
        self.token = None
        self.get("/login")
        response = self.post("/login", {"email": email, "password": password})
        self.token = None
        return response

    def login_as(self, role: str) -> Browser:
        response = self.login(f"{role}@example.test")
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        self.get("/login")  # signed in: redirects; fetch a page with a form for the token
        if self.token is None:
            self.get("/patients" if role != "admin" else "/admin/users")
        return self

    def text(self, url: str, **kw: Any) -> str:
        response = self.get(url, **kw)
        assert response.status_code == 200, (url, response.status_code)
        return str(response.get_data(as_text=True))


@pytest.fixture
def browser(web_app: Flask, staff: dict[str, Any]) -> Browser:
    return Browser(web_app)


@pytest.fixture
def as_role(web_app: Flask, staff: dict[str, Any]) -> Any:
    def make(role: str) -> Browser:
        return Browser(web_app).login_as(role)

    return make


# --- the JSON API (tests/web/conftest_api.py holds the harness and the contract) ---------------


@pytest.fixture(scope="module")
def api_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """One migrated database and app per test module, built with the real migrations."""
    from tests.conftest import ScratchDatabase, test_database_url
    from tests.web.conftest_api import Harness

    scratch = ScratchDatabase(test_database_url(), Path(tmp_path_factory.mktemp("api")))
    harness = None
    try:
        harness = Harness(scratch)
        yield harness
    finally:
        if harness is not None:
            harness.close()
        scratch.drop()


@pytest.fixture
def api(api_module: Harness) -> Harness:
    """The module's API with the clock back at T0."""
    from tests.web.conftest_api import T0 as API_T0

    api_module.clock.set(API_T0)
    return api_module
