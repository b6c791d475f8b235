"""``create_app(config=None) -> Flask``: wiring only. Nothing imports this module but the edges."""

from __future__ import annotations

from typing import Any

from flask import Flask

from pathway.config import Config, load_config
from pathway.resources import templates_dir
from pathway.runtime import Runtime
from pathway.web import api, auth, context, filters, health, ical, pages, security, ui, webhooks


def create_app(config: Config | None = None, *, runtime: Runtime | None = None, **flask_config: Any) -> Flask:
    """Build the web app. No scheduler starts here: the worker is its own command."""
    runtime = runtime or Runtime.build(config or load_config())
    app = Flask("pathway", template_folder=str(templates_dir()), static_folder=None)
    app.config.update(SECRET_KEY=runtime.config.secrets.secret_key or None)
    app.config.update(flask_config)
    app.extensions["pathway"] = runtime
    context.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    ui.init_app(app)
    filters.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(ical.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    return app
