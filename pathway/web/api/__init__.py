"""The JSON API under /api/v1 (bearer tokens from ``pathway token create``).

Views are thin: parse the JSON body, call a service, commit, serialise. ``core`` holds the
plumbing (authentication, body parsing, errors), ``views`` the routes and ``openapi`` the
OpenAPI 3.1 document served at ``/api/v1/openapi.json``.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from pathway.web.api import core, openapi, views  # noqa: E402,F401  (register handlers and routes)

__all__ = ["bp"]
