"""The application factory: ``create_app()`` reads settings, binds extensions, adds the blueprints.

This is the top of the layers (see ARCHITECTURE.md): it imports every domain's views so their
routes are on the blueprints before they are registered. Nothing imports this module but
``wsgi.py``, the ``flask --app portal.app`` command line and the tests.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, current_app, flash, request, url_for
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from portal import cli, digest, models
from portal.accounts import bp as accounts_bp
from portal.accounts import closing_views, my_data_views, passwords, session_views, two_factor_views, verification_views
from portal.accounts import housekeeping as account_housekeeping
from portal.accounts import my_data as accounts_data
from portal.accounts import permissions as accounts_rules
from portal.accounts import retention as accounts_retention
from portal.accounts import sessions as account_sessions
from portal.accounts import views as accounts_views
from portal.accounts.models import User
from portal.admin import bp as admin_bp
from portal.admin import email_views, jobs_views
from portal.admin import permissions as admin_rules
from portal.admin import views as admin_views
from portal.calendar import bp as calendar_bp
from portal.calendar import my_data as calendar_data
from portal.calendar import permissions as calendar_rules
from portal.calendar import views as calendar_views
from portal.core import compaction, formatting, housekeeping, permissions, retention, revisions
from portal.core import config as settings
from portal.core.access_logs import keep_query_strings_out
from portal.core.extensions import csrf, db, limiter, login_manager, migrate
from portal.core.logging_setup import configure_logging, init_request_ids
from portal.core.metrics import init_metrics
from portal.core.request_checks import register_request_checks, use_id_converter
from portal.core.security import register_security_headers
from portal.core.tasks import init_tasks
from portal.core.web import is_htmx, redirect_to, register_error_handlers
from portal.directory import bp as directory_bp
from portal.directory import my_data as directory_data
from portal.directory import permissions as directory_rules
from portal.directory import report_views as directory_report_views
from portal.directory import safety_views as directory_safety_views
from portal.directory import views as directory_views
from portal.gatherings import bp as gatherings_bp
from portal.gatherings import my_data as gatherings_data
from portal.gatherings import permissions as gatherings_rules
from portal.gatherings import reminders as gatherings_reminders
from portal.gatherings import retention as gatherings_retention
from portal.gatherings import views as gatherings_views
from portal.grants import (
    application_history_views,
    application_views,
    indexing,
    phase_views,
    project_views,
    report_autosave_views,
    report_history_views,
    team_views,
)
from portal.grants import bp as grants_bp
from portal.grants import my_data as grants_data
from portal.grants import permissions as grants_rules
from portal.grants import retention as grants_retention
from portal.grants import review_views as grants_review_views
from portal.grants import schedule as grants_schedule
from portal.learning import bp as learning_bp
from portal.learning import moderation_views
from portal.learning import my_data as learning_data
from portal.learning import permissions as learning_rules
from portal.learning import retention as learning_retention
from portal.learning import views as learning_views
from portal.main import bp as main_bp
from portal.main import permissions as main_rules
from portal.main import views as main_views
from portal.notifications import bp as notifications_bp
from portal.notifications import my_data as notifications_data
from portal.notifications import permissions as notifications_rules
from portal.notifications import retention as notifications_retention
from portal.notifications import views as notifications_views
from portal.remuneration import bp as remuneration_bp
from portal.remuneration import claim_views, export_views, finance_views, rate_views
from portal.remuneration import my_data as remuneration_data
from portal.remuneration import permissions as remuneration_rules
from portal.remuneration import reminders as remuneration_reminders
from portal.remuneration import retention as remuneration_retention
from portal.remuneration import review_views as remuneration_review_views
from portal.remuneration import runs as remuneration_runs
from portal.search import bp as search_bp
from portal.search import views as search_views
from portal.stories import approval_views, history_views, member_views, public_views, staff_views
from portal.stories import bp as stories_bp
from portal.stories import my_data as stories_data
from portal.stories import permissions as stories_rules
from portal.stories import retention as stories_retention
from portal.teams import my_data as teams_data
from portal.teams import permissions as teams_rules

# Every domain's rules, registered with core.permissions when imported.
RULES = (
    accounts_rules,
    admin_rules,
    calendar_rules,
    directory_rules,
    gatherings_rules,
    grants_rules,
    learning_rules,
    main_rules,
    notifications_rules,
    remuneration_rules,
    stories_rules,
    teams_rules,
)
# Each area's part of "Download my data" and "Erase me", registered with core.my_data when imported.
MY_DATA = (
    accounts_data,
    calendar_data,
    directory_data,
    gatherings_data,
    grants_data,
    learning_data,
    notifications_data,
    remuneration_data,
    stories_data,
    teams_data,
)
# The modules whose import puts routes on the blueprints (and, for indexing, session hooks in place).
ROUTES = (
    accounts_views,
    closing_views,
    my_data_views,
    verification_views,
    session_views,
    two_factor_views,
    admin_views,
    jobs_views,
    email_views,
    calendar_views,
    directory_views,
    directory_safety_views,
    directory_report_views,
    gatherings_views,
    application_views,
    application_history_views,
    phase_views,
    project_views,
    report_history_views,
    report_autosave_views,
    team_views,
    grants_review_views,
    indexing,
    moderation_views,
    learning_views,
    main_views,
    notifications_views,
    claim_views,
    export_views,
    finance_views,
    rate_views,
    remuneration_review_views,
    search_views,
    member_views,
    public_views,
    staff_views,
    history_views,
    approval_views,
    models,
)
# The modules whose import declares scheduled jobs (``portal.core.schedule.job``).
JOBS = (
    account_housekeeping,
    compaction,
    housekeeping,
    digest,
    gatherings_reminders,
    grants_schedule,
    remuneration_reminders,
    remuneration_runs,
    retention,
)
# The modules whose import declares retention rules (``portal.core.retention.rule``) or the
# tables an erasure vacuums (``portal.core.compaction.holds_erased_words``).
RETENTION = (
    accounts_retention,
    gatherings_retention,
    grants_retention,
    learning_retention,
    notifications_retention,
    remuneration_retention,
    stories_retention,
)
BLUEPRINTS = (
    main_bp,
    accounts_bp,
    admin_bp,
    remuneration_bp,
    grants_bp,
    learning_bp,
    notifications_bp,
    search_bp,
    calendar_bp,
    gatherings_bp,
    directory_bp,
    stories_bp,
)


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
        # Flask's documented way to add WSGI middleware; mypy refuses any assignment to a method.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]
    configure_logging(app)  # JSON lines in production, each with its request, task or job id
    init_request_ids(app)
    init_metrics(app)
    keep_query_strings_out()  # search words travel in query strings; access logs keep the path only

    _init_extensions(app)
    register_request_checks(app)
    use_id_converter(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    permissions.check_declared(app)
    _register_templates(app)
    register_security_headers(app)
    register_error_handlers(app)
    cli.register_commands(app)
    return app


def load_user(session_id: str) -> User | None:
    """The signed-in person from the session's "id:token:device", while that device is signed in."""
    return account_sessions.load(session_id, idle_days=int(current_app.config["SESSION_IDLE_DAYS"]))


def unauthorized() -> Response:
    target = url_for("accounts.sign_in", next=request.full_path.rstrip("?"))
    if is_htmx():
        response = redirect_to(target)
        response.status_code = 401
        return response
    flash("Sign in to see that page.", "info")
    return redirect_to(target)


def _init_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(settings.PROJECT_ROOT / "portal" / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    # Flask-Limiter's one limiter keeps the first key prefix it was given (``init_app`` only fills
    # it in when empty), so every app states its own: a test app with a prefix would otherwise
    # give every later app in the process keys no other process counts.
    limiter._key_prefix = app.config.get("RATELIMIT_KEY_PREFIX", "")
    limiter.init_app(app)
    init_tasks(app)
    passwords.prepare(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.sign_in"
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_user)
    login_manager.unauthorized_handler(unauthorized)


def _register_templates(app: Flask) -> None:
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.globals["can"] = lambda action, obj=None: permissions.can(current_user, action, obj)
    app.jinja_env.globals["htmx_cdn_url"] = app.config["HTMX_CDN_URL"]
    app.jinja_env.globals["htmx_sri"] = app.config["HTMX_SRI"]
    app.jinja_env.filters["money"] = formatting.money
    app.jinja_env.filters["local_datetime"] = formatting.local_datetime
    app.jinja_env.filters["local_date"] = formatting.local_date
    app.jinja_env.globals["word_diff"] = revisions.word_diff
