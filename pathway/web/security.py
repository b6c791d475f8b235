"""What every answer shares, set in one place: security headers, a request id, the client's
address through trusted proxies, the request size limit, and the handler of unexpected errors.

- Headers (one ``after_request`` hook, on pages, API answers, webhooks and errors alike): a
  Content-Security-Policy that allows only this app's own scripts, styles, fonts and images (no
  inline script or style attribute anywhere) and no framing; ``X-Content-Type-Options: nosniff``;
  ``Referrer-Policy: no-referrer``; ``Strict-Transport-Security`` when the request came over HTTPS
  (as the trusted proxy says); ``Cache-Control: no-store`` on everything but static files, since
  pages and API answers carry patients' details.
- ``X-Request-ID``: a fresh id per request, on every answer, in the log line of any failure and on
  the error page or JSON, so a report can be matched to the log without the log holding a body.
- ``[web] trusted_proxies`` = N > 0 wraps the app in Werkzeug's ProxyFix believing N proxies, so
  ``request.remote_addr`` (the audit log, the login throttle) and ``request.is_secure`` are the
  client's. With 0, forwarded headers are ignored (a client could forge them).
- ``[web] max_request_bytes``: Flask's MAX_CONTENT_LENGTH; a larger body answers 413.
- ``<int:...>`` in routes matches only ids the database can hold (``RecordId``): a larger one is a 404.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from typing import Any

from flask import Flask, Response, g, render_template, request
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from pathway.schemas.base import unsafe_values
from pathway.services.base import MAX_ID

log = logging.getLogger("pathway.web")

CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",  # Bootstrap's CSS draws its form and toggler icons as data: SVGs
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
HSTS = "max-age=31536000; includeSubDomains"


def request_id() -> str:
    """This request's id (made on first use)."""
    if "request_id" not in g:
        g.request_id = uuid.uuid4().hex[:16]
    rid: str = g.request_id
    return rid


def route() -> str:
    """The matched route's template (``/patients/<int:patient_id>``), never the URL's values."""
    return request.url_rule.rule if request.url_rule is not None else "-"


def log_failure(exc: BaseException, user_id: Any = None) -> str:
    """Log an unexpected error by request id, method, route and where it happened; return the id.

    Not the exception's text or the request body: either may quote a patient's details (an
    IntegrityError quotes the statement; the engines hide its parameters as well).
    """
    frames = reversed(traceback.extract_tb(exc.__traceback__))
    where = " < ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in frames)
    rid = request_id()
    log.error("request %s %s %s failed user=%s: %s at %s", rid, request.method, route(),
              user_id if user_id is not None else "-", type(exc).__name__, where)
    return rid


def _signed_in_user_id() -> Any:
    from flask_login import current_user

    return current_user.id if getattr(current_user, "is_authenticated", False) else None


def _unexpected(exc: Exception) -> Any:
    """The app-wide handler: HTTP errors without a page of their own, and every crash."""
    if isinstance(exc, HTTPException):
        code = exc.code or 500
        return render_template("errors/error.html", code=code, title=exc.name,
                               message=exc.description or ""), code
    session = g.get("db_session")
    if session is not None:
        session.rollback()  # nothing half-stored
    if isinstance(exc, StaleDataError):
        # Another request changed the same patient or episode between this one's read and its
        # write (the version counter's ``WHERE version = :seen`` matched nothing).
        return render_template("errors/error.html", code=409, title="Someone else changed this record",
                               message="Someone else changed this record at the same moment, so nothing was "
                                       "saved. Go back, reload the page, check what changed and try again."), 409
    rid = log_failure(exc, _signed_in_user_id())
    return render_template("errors/error.html", code=500, title="Something went wrong",
                           message="Nothing was saved. Try again; if it happens again, tell your administrator.",
                           request_id=rid), 500


def too_large(exc: HTTPException) -> Any:
    limit = request.max_content_length or 0
    return render_template("errors/error.html", code=413, title="Too large",
                           message=f"What was sent is larger than this app accepts ({limit // 1024} KB). "
                                   "Send less at once."), 413


def _refuse_unreadable_input() -> Any:
    """A page's query or form that holds a NUL character answers 422 naming the field, before any
    view reads it (the database would refuse it: PostgreSQL allows no NUL in text). The API checks
    its own input and answers JSON (``web/api/core.py``); Twilio's webhooks keep a signed text whole."""
    if request.blueprint in ("api", "webhooks") or request.path.startswith(("/api/", "/webhooks/")):
        return None
    fields = request.args.to_dict()
    if request.method in ("POST", "PUT", "PATCH"):
        fields.update(request.form.to_dict())
    unsafe = unsafe_values(fields)
    if not unsafe:
        return None
    problems = "; ".join(f"{name}: {problem}" for name, problem in unsafe.items())
    return render_template("errors/error.html", code=422, title="This cannot be read",
                           message=f"Nothing was saved. {problems}."), 422


def _headers(response: Response) -> Response:
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Frame-Options"] = "DENY"  # for browsers older than frame-ancestors
    headers["X-Request-ID"] = request_id()
    if request.is_secure:
        headers["Strict-Transport-Security"] = HSTS
    endpoint = request.endpoint or ""
    if endpoint != "static" and not endpoint.endswith(".static"):
        headers["Cache-Control"] = "no-store"
    return response


def digits_up_to(limit: int) -> str:
    """A regular expression matching the decimal numbers from 0 to ``limit`` (no sign)."""
    text = str(limit)
    options = [rf"\d{{1,{len(text) - 1}}}"] if len(text) > 1 else []
    for i, ch in enumerate(text):
        if ch != "0":
            rest = len(text) - i - 1
            options.append(text[:i] + f"[0-{int(ch) - 1}]" + (rf"\d{{{rest}}}" if rest else ""))
    options.append(text)
    return "(?:" + "|".join(options) + ")"


class RecordId(IntegerConverter):
    """``<int:...>`` in every route: a number beyond the database's INTEGER range matches no route
    (404), as a missing record does, instead of reaching the database and failing there. The bound
    is in the pattern, not only in ``max``: Werkzeug checks ``max`` after choosing a rule, and a
    refused value then reads as "method not allowed" (405) when another method's rule shares the path."""

    regex = digits_up_to(MAX_ID)

    def __init__(self, url_map: Map, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = MAX_ID, signed: bool = False) -> None:
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def init_app(app: Flask) -> None:
    web = app.extensions["pathway"].config.web
    app.url_map.converters["int"] = RecordId  # before any blueprint adds its routes
    app.config["MAX_CONTENT_LENGTH"] = web.max_request_bytes
    if web.trusted_proxies > 0:
        n = web.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]
    app.before_request(_refuse_unreadable_input)
    app.after_request(_headers)
    app.register_error_handler(413, too_large)
    app.register_error_handler(Exception, _unexpected)
