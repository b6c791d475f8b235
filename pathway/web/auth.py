"""Staff sign-in (sessions) and roles.

Flask-Login keeps the signed-in user in Flask's signed session cookie (Secure when the public URL
is https, HttpOnly, SameSite=Lax). The cookie also carries the account's session generation at
sign-in and the sign-in time. Every page request checks, by the app's injected clock:

- the generation still matches the account's (signing out, a password change, deactivation and an
  admin's "sign out everywhere" raise it, so every copy of the cookie stops working at once);
- the session is younger than ``[web] session_absolute_hours`` (however active it was);
- it was used in the last ``[web] session_idle_minutes`` (every request refreshes this).

Flask-WTF's CSRFProtect guards every form; the API (bearer tokens) and the webhooks
(signature-checked) are exempt.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from pathway.models import User
from pathway.services import users
from pathway.services.base import Actor, NotFound
from pathway.services.users import authenticate
from pathway.timeline.vocabulary import Role
from pathway.web.context import audit_denied, client_addr, db, env, runtime

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)
csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"

F = TypeVar("F", bound=Callable[..., Any])
SEEN_KEY = "pathway_seen"
STARTED_KEY = "pathway_started"
GENERATION_KEY = "pathway_generation"


class LoginUser:
    """What Flask-Login keeps for a request: the account's id and role, never patient data."""

    def __init__(self, user: User) -> None:
        self.id = user.id
        self.role = user.role
        self.email = user.email
        self.name = user.name or user.email
        self.active = user.active

    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return str(self.id)


def actor() -> Actor:
    """The signed-in user as the services' Actor, with the request's address for the audit."""
    return Actor(role=current_user.role, user_id=current_user.id, label=f"user:{current_user.id}",
                 remote_addr=client_addr())


def roles(*allowed: str) -> Callable[[F], F]:
    """Sign-in required, then the role, checked before anything is looked up."""

    def wrap(view: F) -> F:
        def checked(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in allowed:
                needs = f"needs the {' or '.join(allowed)} role"
                audit_denied(actor(), needs)
                # 403 that says so. Checked before anything is looked up, so a record that
                # exists and one that does not get the same page: nothing is revealed.
                abort(403, description=needs)
            return view(*args, **kwargs)

        # flask_login is untyped: its decorator is applied as a call so the view keeps its type.
        return cast(F, wraps(view)(login_required(checked)))

    return wrap


def home_for(role: str) -> str:
    if role == Role.ADMIN:
        return url_for("pages.users")
    if role == Role.CLINICIAN:
        return url_for("pages.board")
    return url_for("pages.worklist")


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(home_for(current_user.role))
    error = None
    email = ""
    if request.method == "POST":
        email = (request.form.get("email") or "").strip()
        password = request.form.get("password") or ""
        user = authenticate(db(), env(), email, password, client_addr())
        db().commit()  # the failure count and the audit row are kept either way
        if user is not None:
            session.clear()
            session.permanent = True
            login_user(LoginUser(user))
            session[SEEN_KEY] = session[STARTED_KEY] = env().now.timestamp()
            session[GENERATION_KEY] = user.session_generation
            log.info("sign-in user_id=%s", user.id)
            return redirect(_safe_next(request.args.get("next")) or home_for(user.role))
        error = "That email and password do not match an active account. Check them and try again."
    web = runtime().config.web
    return render_template("auth/login.html", error=error, email=email, idle_minutes=web.session_idle_minutes,
                           absolute_hours=web.session_absolute_hours), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    if current_user.is_authenticated:
        # Ends this account's every session, so a copy of this cookie (or another device's) is dead too.
        users.sign_out(db(), env(), actor())
        db().commit()
        log.info("sign-out user_id=%s", current_user.id)
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    response = redirect(url_for("auth.login"))
    # Ask the browser to drop anything it kept of the pages seen (the cookie itself is replaced).
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


@bp.post("/admin/users/<int:user_id>/sessions/end")
@roles(Role.ADMIN)
def end_sessions(user_id: int) -> Any:
    """An admin's "sign out everywhere" for one account (the button on the users page)."""
    try:
        user = users.end_sessions(db(), env(), actor(), user_id)
    except NotFound:
        abort(404)
    db().commit()
    log.info("sessions ended user_id=%s by user_id=%s", user.id, current_user.id)
    if user.id == current_user.id:
        return redirect(url_for("auth.login"))
    flash(f"{user.email} is signed out everywhere.", "success")
    return redirect(url_for("pages.users"))


def _load_user(user_id: str) -> LoginUser | None:
    if not user_id.isdigit():
        return None
    user = db().get(User, int(user_id))
    if user is None or not user.active or session.get(GENERATION_KEY) != user.session_generation:
        return None
    return LoginUser(user)


def _end(message: str) -> Any:
    logout_user()
    session.clear()
    flash(message, "info")
    if request.method == "GET":
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return redirect(url_for("auth.login"))


def _check_session() -> Any:
    """End a session that was ended elsewhere, is too old, or idled out (by the app's clock)."""
    if request.endpoint in (None, "static") or (request.blueprint or "") in ("api", "webhooks", "health", "bootstrap"):
        return None
    if "_user_id" not in session:
        return None
    if not current_user.is_authenticated:  # signed out elsewhere, password changed, or deactivated
        return _end("You were signed out: you signed out on another device, your password changed, "
                    "or an administrator ended your sessions. Please sign in again.")
    web = runtime().config.web
    now = env().now.timestamp()
    started = session.get(STARTED_KEY)
    if not isinstance(started, (int, float)) or now - started > web.session_absolute_hours * 3600:
        return _end(f"You were signed out {web.session_absolute_hours} hours after signing in. Please sign in again.")
    seen = session.get(SEEN_KEY)
    idle = web.session_idle_minutes * 60
    if not isinstance(seen, (int, float)) or now - seen > idle:
        return _end(f"You were signed out after {idle // 60} minutes without activity. Please sign in again.")
    session[SEEN_KEY] = now
    session.permanent = True
    return None


def _refuse_cross_site_forms() -> Any:
    """A form posted from another site is refused, whatever token it carries (browsers say where a
    request comes from in Sec-Fetch-Site; the API and webhooks are called by programs, not forms)."""
    if request.method in ("GET", "HEAD", "OPTIONS") or (request.blueprint or "") in ("api", "webhooks"):
        return None
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return _csrf_error(CSRFError("cross-site form"))
    return None


def _csrf_error(exc: CSRFError) -> Any:
    return render_template("errors/error.html", code=400, title="The form expired",
                           message="This form was not accepted (missing or expired security token). "
                                   "Go back, reload the page and try again."), 400


def _secret_key(app: Flask) -> None:
    if app.config.get("SECRET_KEY"):
        return
    production = bool(app.config.get("SESSION_COOKIE_SECURE")) and not app.testing
    if production:
        raise RuntimeError("PATHWAY_SECRET_KEY is not set: refusing to start with an https public_url. "
                           "Set PATHWAY_SECRET_KEY to a long random value.")
    app.config["SECRET_KEY"] = secrets.token_urlsafe(48)
    log.warning("PATHWAY_SECRET_KEY is not set: using a random key for this process only; "
                "sessions end when it restarts. Set PATHWAY_SECRET_KEY in production.")


def _exempt_by_name(*names: str) -> None:
    """Exempt the bearer-token API and the signature-checked webhooks from CSRF.

    Flask-WTF matches exempt blueprints by object, so the blueprints are looked up by name.
    """
    import importlib

    for name in names:
        csrf.exempt(importlib.import_module(f"pathway.web.{name}").bp)


def init_app(app: Flask) -> None:
    web = app.extensions["pathway"].config.web
    # Flask's defaults already hold these keys, so they are set, not defaulted.
    secure = web.public_url.startswith("https://")
    app.config.update(
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="pathway_session",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=web.session_idle_minutes),
        SESSION_REFRESH_EACH_REQUEST=True,
        REMEMBER_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
    )
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the token lives as long as the session
    # Every answer says Referrer-Policy: no-referrer (URLs carry record ids), so browsers send no
    # Referer and Flask-WTF's HTTPS referrer check would refuse every form. The session-bound token,
    # SameSite=Lax cookies and the cross-site check below (Sec-Fetch-Site) guard forms instead.
    app.config.setdefault("WTF_CSRF_SSL_STRICT", False)
    _secret_key(app)
    app.before_request(_refuse_cross_site_forms)  # before CSRFProtect's own check
    csrf.init_app(app)
    _exempt_by_name("api", "webhooks")
    login_manager.init_app(app)
    login_manager.user_loader(_load_user)
    app.before_request(_check_session)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_blueprint(bp)
