"""``GET /ical/<token>.ics``: a calendar link's feed, for calendar apps (no sign-in).

The token is the whole secret: an unknown or revoked one answers 404, the same for both. The
feed is built by ``services/calendar.py``; this view only answers it.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort

from pathway.services.base import NotFound
from pathway.services.calendar import feed_for_token
from pathway.web.context import db, env

bp = Blueprint("ical", __name__)


@bp.get("/ical/<token>.ics")
def feed(token: str) -> Response:
    try:
        body = feed_for_token(db(), env(), token)
    except NotFound:
        abort(404)
    response = Response(body, content_type="text/calendar; charset=utf-8")
    # (security.py answers every request with Cache-Control: no-store: the address is the secret.)
    response.headers["Content-Disposition"] = 'inline; filename="calendar.ics"'
    return response
