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
    return render_template("errors/error.html", code=404, title="Not found",
                           message="There is nothing here: the record may have been removed, "
                                   "or the address is wrong."), 404


def _forbidden(exc: Any) -> Any:
    # A role refusal (web.auth.roles) says which role the page needs; the same words whether the
    # record asked for exists or not.
    needs = getattr(exc, "description", "") or ""
    needs = needs if needs.startswith("needs the ") else ""
    role = getattr(current_user, "role", None)
    said = f"Your account ({role}) cannot open this page" if role else "You cannot open this page"
    message = f"{said}: it {needs}." if needs else f"{said}."
    return render_template("errors/error.html", code=403, title="Not allowed for your role",
                           message=message + " Ask an administrator if you need it."), 403


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
    app.register_error_handler(403, _forbidden)
    app.register_error_handler(404, _not_found)
    app.register_error_handler(405, _generic_error)
    app.context_processor(_chrome)
