"""Per-request plumbing shared by every blueprint: one session, one reading of the clock.

Views call a service with ``db()`` and ``env()``, then ``db().commit()``; anything not
committed is rolled back when the request ends.
"""

from __future__ import annotations

from flask import Flask, current_app, g, request
from sqlalchemy.orm import Session

from pathway.runtime import Runtime
from pathway.services.base import Actor, Env, record_denied


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["pathway"]
    return rt


def db() -> Session:
    if "db_session" not in g:
        g.db_session = runtime().sessions()
    session: Session = g.db_session
    return session


def env() -> Env:
    """The request's surroundings; the clock is read once, at the edge."""
    if "pathway_env" not in g:
        g.pathway_env = runtime().env()
    e: Env = g.pathway_env
    return e


def client_addr() -> str | None:
    return request.remote_addr


def audit_denied(actor: Actor, reason: str) -> None:
    """Audit a refused attempt in a transaction of its own: whatever the request began is rolled
    back first (nothing it did is stored), then the refusal's row is committed."""
    session = db()
    session.rollback()
    route = request.url_rule.rule if request.url_rule is not None else request.path
    record_denied(session, env(), actor, method=request.method, route=route, args=request.view_args or {},
                  reason=reason)
    session.commit()


def _close(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close)
