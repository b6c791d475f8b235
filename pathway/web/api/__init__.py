"""The JSON API under /api/v1 (bearer tokens from ``pathway token create``).

Views are thin: parse the request, call a service, commit, answer. ``core`` holds the
plumbing (authentication, body parsing, errors), ``views`` the routes and ``spec`` the route
table from which the OpenAPI 3.1 document at ``/api/v1/openapi.json`` is generated.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from pathway.web.api import core, views  # noqa: E402,F401  (register handlers and routes)

__all__ = ["bp"]
