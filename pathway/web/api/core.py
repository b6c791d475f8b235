"""API plumbing: bearer authentication, JSON bodies, errors as JSON, commit-and-answer."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from flask import Response, g, jsonify, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from pathway.models import User
from pathway.schemas import answers as out
from pathway.schemas.base import MAX_DEPTH, AnswerModel, InputModel, unsafe_values
from pathway.services.base import Actor, Forbidden, ServiceError, StaleVersion, ValidationError, read_input
from pathway.services.users import user_for_token
from pathway.timeline.vocabulary import CARE_TEAM
from pathway.web.api import bp
from pathway.web.context import audit_denied, client_addr, db, env
from pathway.web.security import log_failure, request_id

log = logging.getLogger("pathway.api")

# Endpoints anyone may call without a token (the API's own description, no patient data).
PUBLIC_ENDPOINTS = frozenset({"api.openapi_document"})
Q = TypeVar("Q", bound=InputModel)
REALM = 'Bearer realm="pathway"'


class Unauthorized(Exception):
    def __init__(self, message: str, *, invalid: bool) -> None:
        super().__init__(message)
        self.message = message
        self.invalid = invalid


# --- authentication ------------------------------------------------------------------------


@bp.before_request
def _authenticate() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise Unauthorized("send an API token: Authorization: Bearer <token> (pathway token create)", invalid=False)
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be: Bearer <token>", invalid=True)
    user = user_for_token(db(), env(), token.strip())
    if user is None:
        raise Unauthorized("this token is unknown, revoked or expired, or its user is deactivated", invalid=True)
    g.api_user = user
    g.api_actor = Actor.for_user(user, client_addr())
    check_query()


def current_user() -> User:
    user: User = g.api_user
    return user


def actor() -> Actor:
    a: Actor = g.api_actor
    return a


def staff() -> Actor:
    """The caller, who must be a coordinator or a clinician (checked before any lookup)."""
    a = actor()
    a.require(*CARE_TEAM)
    return a


# --- input ---------------------------------------------------------------------------------


def json_body() -> Mapping[str, Any]:
    """The request's JSON object. An empty body is ``{}`` (the services then name each missing
    field); anything else that is not a JSON object is a 422 naming ``body``. An ``If-Match``
    header is the body's ``version`` (see ``_with_if_match``)."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return _with_if_match({})
    try:
        data = request.get_json(force=True, silent=True)
    except RecursionError:  # the parser recursed past Python's limit (thousands of levels)
        raise ValidationError({"body": f"nested too deeply (more than {MAX_DEPTH} levels)"}) from None
    if data is None:
        raise ValidationError(
            {"body": "not valid JSON; send a JSON object, e.g. {\"procedure_at\": \"2027-03-10T08:00\"}"})
    if not isinstance(data, dict):
        raise ValidationError({"body": f"must be a JSON object, not a {type(data).__name__}"})
    unsafe = unsafe_values(data)  # NUL, lone surrogates, 1e309 and NaN, deep nesting: named, never stored
    if unsafe:
        raise ValidationError(unsafe)
    return _with_if_match(data)


def query(model: type[Q]) -> Q:
    """The request's query string as ``model`` (a 422 names every bad parameter)."""
    args: dict[str, Any] = request.args.to_dict()
    if "version" in model.model_fields:
        args = _with_if_match(args)
    return read_input(model, args)


# Optimistic concurrency. Every answer that carries a patient, an episode or a part of one (a hold,
# a step) has an ETag naming the record's version, ``"v3"``; a change sent with ``If-Match: "v3"``
# is made from that version (as if the body said ``"version": 3``), and answers 409 if the record
# has changed since. ``If-Match: *`` checks nothing.
ETAG = re.compile(r'^\s*(?:W/)?"v([0-9]{1,10})"\s*$')


def _with_if_match(data: dict[str, Any]) -> dict[str, Any]:
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return data
    found = ETAG.match(header)
    if found is None:
        raise ValidationError({"If-Match": 'send the ETag of the record\'s last answer, e.g. If-Match: "v3"'})
    version = int(found.group(1))
    if data.get("version") not in (None, "", version):
        raise ValidationError({"If-Match": f"says version {version} but the body's version is {data['version']!r}; "
                                           "send one of them"})
    return {**data, "version": version}


def etag_of(payload: AnswerModel) -> str | None:
    """The ETag of an answer that carries a patient, an episode, or a hold or step of an episode."""
    if isinstance(payload, out.Patient | out.Episode):
        return f'"v{payload.version}"'
    if isinstance(payload, out.Hold | out.Milestone):
        return f'"v{payload.episode_version}"'
    return None


def check_query() -> None:
    """Every query parameter, read by a model or not, holds no NUL (a 422 naming it)."""
    unsafe = unsafe_values(request.args.to_dict())
    if unsafe:
        raise ValidationError(unsafe)


# --- output --------------------------------------------------------------------------------


def answer(payload: AnswerModel | dict[str, Any] | list[Any], status: int = 200, *,
           location: str | None = None, media_type: str | None = None) -> Response:
    """Commit the unit of work (the change and its audit rows), then answer."""
    db().commit()
    response = jsonify(payload.dump() if isinstance(payload, AnswerModel) else payload)
    response.status_code = status
    if media_type:
        response.mimetype = media_type
    if location:
        response.headers["Location"] = location
    tag = etag_of(payload) if isinstance(payload, AnswerModel) else None
    if tag is not None:
        response.headers["ETag"] = tag
    return response


def _error(status: int, *, errors: dict[str, str] | None = None, message: str | None = None,
           body: AnswerModel | None = None) -> Response:
    session = g.get("db_session")
    if session is not None:
        session.rollback()  # nothing is stored on any error
    text = message or _default_message(status)
    if body is None:
        body = out.Error(message=text) if errors is None else out.ValidationError(errors=errors, message=text)
    response = jsonify(body.dump())
    response.status_code = status
    return response


def _default_message(status: int) -> str:
    return {
        401: "authentication required",
        403: "your role may not do this",
        404: "not found",
        405: "method not allowed",
        409: "conflict",
        422: "some fields need fixing; see errors",
    }.get(status, "error")


@bp.errorhandler(Unauthorized)
def _unauthorized(exc: Unauthorized) -> Response:
    response = _error(401, message=exc.message)
    response.headers["WWW-Authenticate"] = REALM + (', error="invalid_token"' if exc.invalid else "")
    return response


@bp.errorhandler(ServiceError)
def _service_error(exc: ServiceError) -> Response:
    if isinstance(exc, ValidationError):
        return _error(422, errors=exc.errors)
    if isinstance(exc, Forbidden):
        response = _error(403, message=str(exc))
        audit_denied(actor(), str(exc))
        return response
    if isinstance(exc, StaleVersion):
        return _error(409, body=out.Stale(message=str(exc), record=exc.record, record_id=exc.record_id,
                                          sent_version=exc.given, version=exc.current))
    return _error(exc.status, message=str(exc))


def _is_api_request() -> bool:
    prefix = bp.url_prefix or "/api/v1"
    return request.path == prefix or request.path.startswith(prefix + "/")


@bp.before_app_request
def _api_routing_error() -> Response | None:
    """Unknown paths and methods under /api/v1 answer JSON, whatever HTML error pages the app
    registers: routing failed before any blueprint was chosen, so this runs app-wide and lets
    every other path through untouched."""
    exc = request.routing_exception
    if exc is None or not _is_api_request() or not isinstance(exc, HTTPException):
        return None
    return _http_error(exc)


def _http_error(exc: HTTPException) -> Response:
    code = exc.code or 500
    message = "no such API route" if code == 404 else (exc.description or _default_message(code))
    response = _error(code, message=message)
    allow = exc.get_response().headers.get("Allow")
    if allow:
        response.headers["Allow"] = allow
    return response


# HTTP errors raised while an API view runs. Registered by code on the blueprint, because an
# app-wide handler for the same code (the HTML pages') would otherwise be chosen first.
for _code in (400, 403, 404, 405, 409, 413, 415, 422):
    bp.register_error_handler(_code, _http_error)


def _caller_id() -> int | None:
    """The caller's user id without touching the session (it may have failed mid-flush)."""
    a: Actor | None = g.get("api_actor")
    return a.user_id if a is not None else None


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Any:
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    if isinstance(exc, IntegrityError):
        # A unique key taken by a request that committed first (e.g. the same MRN twice at once).
        log.info("api %s %s %s conflict user=%s", request_id(), request.method,
                 request.url_rule.rule if request.url_rule is not None else "-",
                 g.api_user.id if g.get("api_user") is not None else "-")
        return _error(409, message="this conflicts with a record stored at the same moment; reload and try again")
    if isinstance(exc, StaleDataError):
        db().rollback()  # before anything reads the session again
        # Another request changed the same patient or episode between this one's read and its write
        # (the version counter's ``WHERE version = :seen`` matched nothing): nothing is stored.
        log.info("api %s %s %s stale user=%s", request_id(), request.method,
                 request.url_rule.rule if request.url_rule is not None else "-", _caller_id() or "-")
        return _error(409, message="someone else changed this record at the same moment; nothing was changed: "
                                   "reload it, check what changed and try again")
    # The exception's text may quote stored values (names, phone numbers): log where, not what.
    rid = log_failure(exc, g.api_user.id if g.get("api_user") is not None else None)
    return _error(500, message=f"internal error; nothing was stored (request id {rid})")


@bp.after_request
def _log(response: Response) -> Response:
    # Ids only: the route template, its numeric arguments, the user id and the status.
    user = g.get("api_user")
    rule = request.url_rule.rule if request.url_rule is not None else "-"
    log.info("api %s %s %s %s user=%s status=%s", request_id(), request.method, rule,
             dict(request.view_args or {}), user.id if user is not None else "-", response.status_code)
    return response
