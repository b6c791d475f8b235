"""``GET /healthz``: database reachable, worker heartbeat age, overdue unsent texts.

200 while the newest worker heartbeat is at most three dispatch ticks old; 503 otherwise (or
when the database cannot be reached), so a load balancer or monitor can page someone.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from pathway.services.health import health_report
from pathway.web.context import db, env, runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    cfg = runtime().config
    try:
        report = health_report(db(), env(), tick_seconds=cfg.dispatch.tick_seconds)
    except Exception:
        return jsonify({"status": "unhealthy", "database": "unreachable"}), 503
    return jsonify(report.as_dict()), (200 if report.healthy else 503)
