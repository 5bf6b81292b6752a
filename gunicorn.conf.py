"""gunicorn's settings for the portal, read from the working directory (``gunicorn wsgi:app``).

The access log names the path without its query string (``%(U)s``, not ``%(r)s``) and leaves out
the referrer, because search words travel in query strings (see portal/core/access_logs.py).

In production (``PORTAL_ENV`` unset or ``production``, unless ``PORTAL_LOG_FORMAT=text``) gunicorn's
own log and its access log are JSON lines like the portal's (core/logging_setup.py): the access
log goes to standard output, one object a request with its ``request_id`` (the response's
``X-Request-ID``), the path and never the query string or the referrer.

Metrics (core/metrics.py): each worker is a process, so prometheus_client's multiprocess mode
keeps each one's figures in ``PROMETHEUS_MULTIPROC_DIR`` (a new temporary folder unless it is
set), emptied when gunicorn starts; a worker that exits is marked dead.
"""

import os
import tempfile
from pathlib import Path

# Before prometheus_client is first imported (it chooses its mode then): the workers inherit it.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="portal-metrics-"))

from prometheus_client import multiprocess  # after the folder is set: the client reads it on import

access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s'

_ENV = os.environ.get("PORTAL_ENV", "production")
_FORMAT = os.environ.get("PORTAL_LOG_FORMAT", "").strip().lower() or ("json" if _ENV == "production" else "text")

if _FORMAT == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "portal.core.logging_setup.ContextFilter"}},
        "formatters": {
            "json": {"()": "portal.core.logging_setup.JsonLineFormatter"},
            "access": {"()": "portal.core.logging_setup.AccessJsonFormatter"},
        },
        "handlers": {
            "error": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "json",
                "filters": ["context"],
            },
            "access": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "access"},
        },
        # The app puts its own handler on the root logger in each worker (configure_logging).
        "root": {"level": "INFO", "handlers": []},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
        },
    }


def on_starting(server):
    """Forget the figures of an earlier run of gunicorn (prometheus_client asks for an empty folder)."""
    for old in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
        old.unlink(missing_ok=True)


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)
