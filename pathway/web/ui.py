"""The staff pages' shared set-up: Bootstrap served from the package, HTML error pages, and what
every page's layout reads (the clinic's name and zone, the signed-in user).

``create_app`` calls ``init_app``; the pages blueprint itself only routes.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template
from flask_bootstrap import Bootstrap5
from flask_login import current_user

from pathway.services import catalogue as catalogue_service
from pathway.services import planning
from pathway.web.context import db, env, runtime


def _not_found(_exc: Any) -> Any:
    # One answer for "missing" and "not yours": the same status and the same words.
    return render_template("errors/error.html", code=404, title="Not found",
                           message="There is nothing here, or you do not have access to it."), 404


def _generic_error(exc: Any) -> Any:
    code = getattr(exc, "code", 400) or 400
    return render_template("errors/error.html", code=code, title=getattr(exc, "name", "Error"),
                           message=getattr(exc, "description", "")), code


def _chrome() -> dict[str, Any]:
    """What the layout shows on every page."""
    rt = runtime()
    banner = None
    if getattr(current_user, "is_authenticated", False):  # staff pages; the login page reads no data
        banner = catalogue_service.unreviewed_banner(db(), rt.rules.catalogue)
    return {"clinic_name": rt.config.clinic.name, "clinic_tz": rt.config.clinic.timezone,
            "current_user": current_user, "catalogue_banner": banner,
            "hold_renal_note": lambda hold: catalogue_service.renal_note(hold, rt.rules.catalogue),
            "hold_text_name": lambda hold: planning.text_name(env(), hold)}


def init_app(app: Flask) -> None:
    app.config["BOOTSTRAP_SERVE_LOCAL"] = True  # clinics run closed networks: never a CDN
    if app.static_url_path is None:
        app.static_url_path = "/static"  # Bootstrap-Flask builds /bootstrap/static from it
    Bootstrap5(app)
    for code in (403, 404):
        app.register_error_handler(code, _not_found)
    app.register_error_handler(405, _generic_error)
    app.context_processor(_chrome)
