"""The Co-Production Portal: ``create_app()`` reads settings, binds extensions, adds blueprints."""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask, flash, request, url_for
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from portal import config as settings
from portal.extensions import csrf, db, limiter, login_manager, migrate


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    instance_dir = (test_config or {}).get("INSTANCE_PATH") or settings.instance_path()
    app = Flask(
        __name__,
        instance_path=instance_dir,
        instance_relative_config=True,
        template_folder=str(settings.PROJECT_ROOT / "templates"),
        static_folder=str(settings.PROJECT_ROOT / "static"),
    )
    app.config.update(settings.DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(settings.from_environment())
    if test_config:
        app.config.update(test_config)
    settings.finalise(app.config, instance_dir)
    os.makedirs(instance_dir, exist_ok=True)

    if app.config["PROXY_COUNT"]:
        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]
    logging.basicConfig(level=logging.INFO if app.config["ENV"] != "testing" else logging.WARNING)

    _init_extensions(app)
    _register_blueprints(app)
    _register_templates(app)

    from portal.security import register_security_headers
    from portal.web import register_error_handlers

    register_security_headers(app)
    register_error_handlers(app)

    from portal.cli import register_commands

    register_commands(app)
    return app


def _init_extensions(app: Flask) -> None:
    from portal import models  # noqa: F401  (every table known to SQLAlchemy and Alembic)

    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(settings.PROJECT_ROOT / "portal" / "migrations"), render_as_batch=True
    )
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.sign_in"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(session_id: str) -> Any:
        from portal.accounts.models import User

        user_id, _, token = session_id.partition(":")
        if not user_id.isdigit() or not token:
            return None
        user = db.session.get(User, int(user_id))
        if user is None or not user.is_active or user.session_token != token:
            return None
        return user

    @login_manager.unauthorized_handler
    def unauthorized() -> Response:
        from portal.web import is_htmx, redirect_to

        target = url_for("accounts.sign_in", next=request.full_path.rstrip("?"))
        if is_htmx():
            response = redirect_to(target)
            response.status_code = 401
            return response
        flash("Sign in to see that page.", "info")
        return redirect_to(target)


def _register_blueprints(app: Flask) -> None:
    from portal.accounts import bp as accounts_bp
    from portal.admin import bp as admin_bp
    from portal.gatherings import bp as gatherings_bp
    from portal.grants import bp as grants_bp
    from portal.learning import bp as learning_bp
    from portal.main import bp as main_bp
    from portal.notifications import bp as notifications_bp
    from portal.people import bp as people_bp
    from portal.remuneration import bp as remuneration_bp
    from portal.search import bp as search_bp
    from portal.stories import bp as stories_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(remuneration_bp)
    app.register_blueprint(grants_bp)
    app.register_blueprint(learning_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(search_bp)
    app.register_blueprint(gatherings_bp)
    app.register_blueprint(people_bp)
    app.register_blueprint(stories_bp)


def _register_templates(app: Flask) -> None:
    from portal import formatting, permissions

    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.globals["can"] = lambda action, obj=None: permissions.can(current_user, action, obj)
    app.jinja_env.globals["htmx_cdn_url"] = app.config["HTMX_CDN_URL"]
    app.jinja_env.globals["htmx_sri"] = app.config["HTMX_SRI"]
    app.jinja_env.filters["money"] = formatting.money
    app.jinja_env.filters["local_datetime"] = formatting.local_datetime
    app.jinja_env.filters["local_date"] = formatting.local_date
