"""Settings: defaults here, then ``instance/config.py``, then ``PORTAL_*`` environment variables.

Every setting below can be set as an environment variable by prefixing ``PORTAL_``
(``PORTAL_DATABASE_URL``, ``PORTAL_SMTP_HOST`` ...). The README's configuration table lists them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from typing import Any

from portal.core.db import engine_options

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent

# The key shipped for development; outside development the app refuses to start with it.
DEVELOPMENT_SECRET_KEY = "development-only-not-secret"

DEFAULTS: dict[str, Any] = {
    "ENV": "production",  # development | testing | production
    "SECRET_KEY": "",
    "DATABASE_URL": "",  # empty: SQLite file portal.sqlite3 in the instance folder
    # How long the portal waits for its database (core/db.py engine_options). Past these a page
    # answers 503 ("we cannot reach our records") instead of holding its worker; 0 is no limit.
    "DB_CONNECT_TIMEOUT": 5,  # PostgreSQL: seconds to open a connection (libpq's smallest is 2)
    # PostgreSQL: the longest one statement may run. VACUUM FULL and migrations lift it for themselves.
    "DB_STATEMENT_TIMEOUT_MS": 30_000,
    # The longest a statement waits for a lock another holds: PostgreSQL's lock_timeout, SQLite's busy_timeout.
    "DB_LOCK_TIMEOUT_MS": 5_000,
    "HEALTHZ_TIMEOUT_MS": 1_500,  # /healthz answers 503 when the database has not answered by then
    # Empty: rate-limit counters are kept in the portal's database (rate_limit_counters), so every
    # worker process shares them; redis://... keeps them in Redis instead.
    "REDIS_URL": "",
    # The task queue: empty is a SQLite file tasks.sqlite3 in the instance folder; redis://... is
    # Redis (production, shared by every worker); "memory" keeps it in the process (tests).
    "TASK_QUEUE_URL": "",
    "TASK_QUEUE_NAME": "portal",  # one Redis can hold several portals' queues under different names
    "WORKER_STALE_MINUTES": 5,  # /healthz reports the queue unhealthy when no worker ticked for this long
    "CLAIM_CONFIRM_TARGET_DAYS": 5,  # a claim waiting this long for its project lead's confirmation: remind the lead
    "CLAIM_APPROVAL_TARGET_DAYS": 10,  # a claim waiting this long for approval: remind staff
    "BATCH_PAID_TARGET_DAYS": 5,  # a payment batch not marked paid after this long: remind finance
    "BASE_URL": "http://127.0.0.1:5000",  # used for links in emails sent by the outbox worker
    "MAIL_FROM": "Co-Production Portal <portal@localhost>",
    "SMTP_HOST": "",  # empty: the outbox worker writes emails to the log instead of sending
    "SMTP_PORT": 587,
    "SMTP_USERNAME": "",
    "SMTP_PASSWORD": "",
    "SMTP_STARTTLS": True,
    "LOGIN_RATE_LIMIT": "5 per minute",
    # After LOGIN_RATE_LIMIT failures for one email address, each further sign-in for it waits this
    # long before the password is checked (right or wrong), instead of locking the owner out.
    "SIGN_IN_SLOW_DOWN_SECONDS": 3,
    "SESSION_IDLE_DAYS": 30,  # a signed-in device unused this long is signed out
    "TWO_FACTOR_PENDING_MINUTES": 5,  # time to enter the code after the password
    "PASSWORD_RESET_MINUTES": 60,
    "INVITATION_EXPIRY_DAYS": 14,  # an invitation to join a team can be answered for this long
    # A link that confirms an email address (sign-up, or a change of address) works once, for this long.
    "EMAIL_VERIFICATION_HOURS": 48,
    "VERIFICATION_RESEND_LIMIT": "3 per hour",  # new confirmation links one person may ask for
    "SESSION_COOKIE_SECURE": True,
    "PROXY_COUNT": 0,  # number of reverse proxies in front (for X-Forwarded-* headers)
    "PAGE_SIZE": 25,
    "UPLOAD_PATH": "",  # empty: the uploads folder in the instance folder
    # One key file per story (core.keystore), kept outside the database: empty is the story-keys
    # folder in the instance folder. Back it up apart from the database, with a short retention.
    "STORY_KEY_PATH": "",
    # The secret the story key files are wrapped with; empty falls back to SECRET_KEY.
    "STORY_MASTER_KEY": "",
    "RECEIPT_MAX_BYTES": 5 * 1024 * 1024,
    # The largest request body accepted (25 MB): a larger one is refused with a 413 page before it is
    # read. Flask's own default is None (no limit), so the portal always sets it.
    "MAX_CONTENT_LENGTH": 25 * 1024 * 1024,
    "MILEAGE_RATE_PENCE": 45,  # per mile; HMRC's approved rate for cars
    # The most one claim's expense lines may come to together (£500); 0 for no cap.
    "EXPENSE_CLAIM_CAP_PENCE": 500_00,
    # Payment batches: a run of more claims than this (making or paying a batch) is done by a
    # background task in chunks, with progress on the batch page; up to it, in the request.
    "BATCH_INLINE_MAX": 10_000,
    # Up to this many claims, a run's emails are written in its own transaction; beyond it a task
    # writes them just after (each email has its own key file, a few milliseconds to write).
    "BATCH_EMAILS_INLINE_MAX": 100,
    # An award's project starts today or later; to record an award made earlier it may start up
    # to this many days ago, with a reason.
    "AWARD_BACKDATE_DAYS": 90,
    "PAYMENT_TARGET_DAYS": 30,  # from submission to payment, shown on the staff dashboard
    "PEER_MESSAGES_PER_DAY": 10,  # messages one member may send through the directory in 24 hours
    "FLAG_THRESHOLD": 3,  # distinct members' flags that hide a post or comment until reviewed
    # Public storyteller figures show counts below this as "fewer than" it and round every other
    # count to a multiple of it (core/disclosure.py); a project gets figures of its own only with
    # at least 3 times this many storytellers. 5 is the usual small-number floor in UK health and
    # care statistics; raise it for small groups.
    "STATS_MIN_CELL": 5,
    # The secret behind each storyteller's record key (core/disclosure.py), which decides how their
    # cells are rounded. Empty: derived from SECRET_KEY. Keep it for good: a new secret re-rounds
    # every figure, and two roundings of the same cells tell more than one.
    "STATS_KEY_SECRET": "",
    "STORY_MEDIA_MAX_BYTES": 20 * 1024 * 1024,  # audio or video with a story; under the 25 MB request cap
    # PostgreSQL: the hourly erasure purge VACUUMs; the search index's table is rewritten (VACUUM
    # FULL, so no dead copy of an erased word stays in its file) nightly, as it locks the table for
    # about 30 s per 100,000 documents. On: rewrite it in the hourly purge too (core/compaction.py).
    "ERASURE_REWRITE_HOURLY": False,
    # The retention schedule (core/retention.py): how many days each kind of record is kept.
    "RETENTION_SENT_EMAIL_DAYS": 90,  # sent or withheld emails (kind, recipient and times by then)
    "RETENTION_NOTIFICATION_DAYS": 365,  # in-app notifications, read or not
    "RETENTION_ACCESS_NEEDS_DAYS": 30,  # a booking's access needs, counted from the end of the gathering
    "RETENTION_SESSION_DAYS": 90,  # signed-in devices (with their IP address), after they end or go idle
    "RETENTION_DRAFT_CLAIM_DAYS": 183,  # draft claims untouched for 6 months (with their receipts)
    "RETENTION_JOB_RECORD_DAYS": 90,  # finished scheduled job runs
    "RETENTION_AUDIT_DAYS": 3 * 365 + 1,  # audit entries about anything but money, consent and decisions
    # Money, consent and decisions: HMRC asks for payment records for 6 years after the tax year
    # they belong to, and claims against a decision can be brought for 6 years; 7 years covers both.
    "RETENTION_AUDIT_RECORDS_KEPT_DAYS": 7 * 365 + 2,
    # Logs (core/logging_setup.py): json or text; empty is json in production, text otherwise.
    "LOG_FORMAT": "",
    "LOG_LEVEL": "",  # empty: INFO (WARNING in tests)
    # /metrics (core/metrics.py) answers a bearer token of at least 16 characters, or requests from
    # these comma-separated addresses or networks; with neither set there is no /metrics (404).
    "METRICS_TOKEN": "",
    "METRICS_ALLOW": "",
    "HTMX_CDN_URL": "https://unpkg.com/htmx.org@2.0.11/dist/htmx.min.js",
    "HTMX_SRI": "sha384-2OatzQy1H+Zd/IIrjr1TcuDGqLXeHhbooAyJY1KdQMKnr4LZ22k31GBLdYKHmVjg",
}


def _coerce(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    return raw


def from_environment(environ: os._Environ[str] | dict[str, str] = os.environ) -> dict[str, Any]:
    """Settings given as ``PORTAL_<NAME>`` environment variables, typed like their defaults."""
    found: dict[str, Any] = {}
    for name, default in DEFAULTS.items():
        raw = environ.get(f"PORTAL_{name}")
        if raw is not None:
            found[name] = _coerce(raw, default)
    return found


def instance_path() -> str:
    return os.environ.get("PORTAL_INSTANCE_PATH") or str(PROJECT_ROOT / "instance")


def sqlalchemy_url(database_url: str, instance_dir: str) -> str:
    """Turn ``PORTAL_DATABASE_URL`` into a SQLAlchemy URL (psycopg 3 for PostgreSQL)."""
    if not database_url:
        return "sqlite:///" + os.path.join(instance_dir, "portal.sqlite3")
    for prefix in ("postgres://", "postgresql://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url[len(prefix) :]
    return database_url


def finalise(config: dict[str, Any], instance_dir: str) -> None:
    """Derive Flask and extension settings from the portal's own, and refuse unsafe ones."""
    env = config["ENV"]
    if env not in {"development", "testing", "production"}:
        raise RuntimeError(f"PORTAL_ENV must be development, testing or production, not {env!r}.")
    if not config.get("SECRET_KEY"):
        if env == "production":
            raise RuntimeError(
                "PORTAL_SECRET_KEY is not set. Set a long random value (see README) "
                "or PORTAL_ENV=development for local use."
            )
        config["SECRET_KEY"] = DEVELOPMENT_SECRET_KEY
    if env == "production" and (config["SECRET_KEY"] == DEVELOPMENT_SECRET_KEY or len(config["SECRET_KEY"]) < 24):
        raise RuntimeError("PORTAL_SECRET_KEY must be a random string of at least 24 characters.")
    if not config.get("STATS_KEY_SECRET"):
        config["STATS_KEY_SECRET"] = hmac.new(
            config["SECRET_KEY"].encode(), b"storyteller summary record keys", hashlib.sha256
        ).hexdigest()
    if env != "production" and "PORTAL_SESSION_COOKIE_SECURE" not in os.environ:
        # Plain http://127.0.0.1 in development and the test client would drop Secure cookies.
        config["SESSION_COOKIE_SECURE"] = False
    config.setdefault("SQLALCHEMY_DATABASE_URI", sqlalchemy_url(config["DATABASE_URL"], instance_dir))
    for name in ("DB_CONNECT_TIMEOUT", "DB_STATEMENT_TIMEOUT_MS", "DB_LOCK_TIMEOUT_MS", "HEALTHZ_TIMEOUT_MS"):
        if not isinstance(config.get(name), int) or isinstance(config[name], bool) or config[name] < 0:
            raise RuntimeError(f"PORTAL_{name} must be a whole number of at least 0 (0 means no limit).")
    if config["HEALTHZ_TIMEOUT_MS"] == 0:
        raise RuntimeError("PORTAL_HEALTHZ_TIMEOUT_MS must be above 0 (default 1500).")
    config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **engine_options(config["SQLALCHEMY_DATABASE_URI"], config),
        **config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
    }
    config["SESSION_COOKIE_HTTPONLY"] = True
    config["SESSION_COOKIE_SAMESITE"] = "Lax"
    config["REMEMBER_COOKIE_SECURE"] = config["SESSION_COOKIE_SECURE"]
    config["REMEMBER_COOKIE_HTTPONLY"] = True
    config["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    config["REMEMBER_COOKIE_DURATION"] = 60 * 60 * 24 * 30
    config["RATELIMIT_STORAGE_URI"] = config["REDIS_URL"] or "portal-database://"  # see core/rate_limits.py
    config["RATELIMIT_STRATEGY"] = "fixed-window"  # the only one the database storage supports
    config["RATELIMIT_HEADERS_ENABLED"] = True
    # Said for every app: Flask-Limiter's one limiter otherwise keeps what the last app set, so one
    # app made with limits off (a test's) would leave every later app in the process unlimited.
    config.setdefault("RATELIMIT_ENABLED", True)
    config["WTF_CSRF_TIME_LIMIT"] = 60 * 60 * 8  # a long form filled in slowly still submits
    if not isinstance(config.get("MAX_CONTENT_LENGTH"), int) or config["MAX_CONTENT_LENGTH"] <= 0:
        raise RuntimeError("PORTAL_MAX_CONTENT_LENGTH must be a number of bytes above 0 (default 26214400: 25 MB).")
    config["DEBUG"] = env == "development"
    config["TESTING"] = env == "testing"
