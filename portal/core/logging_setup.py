"""Logs: one JSON object a line in production, a readable line in development, each with its context.

- **Format.** ``PORTAL_LOG_FORMAT`` is ``json`` or ``text``; empty (the default) is ``json`` in
  production and ``text`` otherwise. ``PORTAL_LOG_LEVEL`` (``INFO`` by default, ``WARNING`` in
  tests). Every logger in the portal, Flask's, Werkzeug's and Huey's goes through the one handler
  ``configure_logging`` puts on the root logger (standard error); gunicorn's own two logs are set
  up the same way by ``gunicorn.conf.py``.
- **Context.** Every line written while a request is answered carries ``request_id``; every line
  a task or a scheduled job writes carries ``task`` and ``task_id`` or ``job`` and ``job_run``
  (``log_context``). The context lives in a ``contextvars.ContextVar``, so threads never see each
  other's.
- **Request ids.** ``RequestIdMiddleware`` takes the id from an incoming ``X-Request-ID`` header
  when it is a safe short token (8 to 64 letters, digits, ``.``, ``_`` or ``-``: what a load
  balancer or proxy makes), or makes a new one (32 hex digits); it answers with it in
  ``X-Request-ID``, and the app keeps it in ``flask.g.request_id`` for the error pages
  ("Reference: ..."), so what a person quotes finds the lines in the log.

Why python-json-logger rather than structlog: it is a formatter for the standard ``logging``
module, which every module here, Flask, Huey and gunicorn already use; nothing else changes.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from flask import Flask, g, request, request_started
from flask.logging import default_handler
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter
from werkzeug.wsgi import ClosingIterator

from portal.core.access_logs import ACCESS_ATOMS  # where QueryStringFilter leaves gunicorn's atoms

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

REQUEST_ID_HEADER = "X-Request-ID"
ENVIRON_KEY = "portal.request_id"
# The context fields, in the order the text format shows them.
CONTEXT_FIELDS = ("request_id", "task", "task_id", "job", "job_run")

_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
_context: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("portal_log_context", default=())


def new_request_id() -> str:
    return secrets.token_hex(16)


def accepted_request_id(given: str | None) -> str:
    """The incoming id when it is a safe short token, else a new one (never what a client typed blindly)."""
    if given and _SAFE_ID.fullmatch(given):
        return given
    return new_request_id()


def current_context() -> dict[str, str]:
    return dict(_context.get())


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Every line logged inside the block carries these fields (besides any already in force)."""
    token = _context.set(tuple({**current_context(), **{k: str(v) for k, v in fields.items()}}.items()))
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Put the current context (request id, task or job) on each record, as attributes."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class TextFormatter(logging.Formatter):
    """``2026-12-07 03:00:00,123 INFO portal.tasks: Sent 3 [request_id=ab12...]``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        context = " ".join(f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if hasattr(record, name))
        return f"{line} [{context}]" if context else line


class JsonLineFormatter(JsonFormatter):
    """``{"timestamp": "...", "level": "INFO", "logger": "portal.tasks", "message": "...", "request_id": "..."}``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", True)
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, ACCESS_ATOMS])
        super().__init__(*(args or ("%(levelname)s %(name)s %(message)s",)), **kwargs)


def access_fields(atoms: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of one gunicorn access line: the path without its query string, never the referrer."""

    def atom(name: str) -> Any:
        value = atoms.get(name)
        # gunicorn's SafeAtoms escape double quotes for its text format; JSON escapes them itself.
        return value.replace('\\"', '"') if isinstance(value, str) else value

    status, sent, duration = atom("s"), atom("B"), atom("D")
    request_id = atom("{x-request-id}o")
    return {
        "remote_addr": atom("h"),
        "method": atom("m"),
        "path": str(atom("U") or "").partition("?")[0],
        "protocol": atom("H"),
        "status": int(status) if str(status).isdigit() else status,
        "bytes": sent if isinstance(sent, int) else None,
        "duration_ms": round(duration / 1000, 1) if isinstance(duration, int) else None,
        "request_id": request_id if isinstance(request_id, str) and request_id != "-" else None,
    }


class AccessJsonFormatter(JsonLineFormatter):
    """gunicorn's access log as JSON: one object a request, built from gunicorn's atoms."""

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_data, record, message_dict)
        atoms = getattr(record, ACCESS_ATOMS, None)
        if atoms is None and isinstance(record.args, Mapping):
            atoms = record.args
        if isinstance(atoms, Mapping):
            log_data.update({name: value for name, value in access_fields(atoms).items() if value is not None})


def log_format(config: Mapping[str, Any]) -> str:
    chosen = str(config.get("LOG_FORMAT") or "").strip().lower()
    if not chosen:
        return "json" if config["ENV"] == "production" else "text"
    if chosen not in {"json", "text"}:
        raise RuntimeError(f"PORTAL_LOG_FORMAT must be json or text (or empty: json in production), not {chosen!r}.")
    return chosen


def log_level(config: Mapping[str, Any]) -> int:
    chosen = str(config.get("LOG_LEVEL") or "").strip().upper() or ("WARNING" if config["ENV"] == "testing" else "INFO")
    level = logging.getLevelNamesMapping().get(chosen)
    if level is None:
        raise RuntimeError(f"PORTAL_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {chosen!r}.")
    return level


class _PortalHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The root logger's handler that ``configure_logging`` owns (replaced, never doubled)."""


def configure_logging(app: Flask) -> None:
    """One handler on the root logger, in the format the settings ask for, with the context filter."""
    handler = _PortalHandler(sys.stderr)
    handler.setFormatter(JsonLineFormatter() if log_format(app.config) == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _PortalHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(log_level(app.config))
    app.logger.removeHandler(default_handler)  # Flask's own goes to the root logger's like every other


class RequestIdMiddleware:
    """Give each request its id (in the environ and the log context) and answer with it."""

    def __init__(self, wsgi_app: WSGIApplication) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request_id = accepted_request_id(environ.get("HTTP_X_REQUEST_ID"))
        environ[ENVIRON_KEY] = request_id
        before = _context.get()
        _context.set((*((k, v) for k, v in before if k != "request_id"), ("request_id", request_id)))

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers = [(k, v) for k, v in headers if k.lower() != REQUEST_ID_HEADER.lower()]
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info)

        def forget() -> None:
            _context.set(before)

        try:
            body = self.wsgi_app(environ, start)
        except BaseException:
            forget()
            raise
        # The context stays until the body is sent and closed: the development server's request
        # line and a streamed export's log lines are written then.
        return ClosingIterator(body, forget)


def _remember_request_id(sender: Flask, **extra: Any) -> None:
    g.request_id = request.environ.get(ENVIRON_KEY) or new_request_id()


def init_request_ids(app: Flask) -> None:
    """Wrap the app in the middleware, and keep the id in ``g`` as the request starts.

    ``request_started`` comes before every ``before_request`` hook, so a request one of them
    refuses (a NUL in it, a rate limit) still has its id on the error page."""
    # Flask's documented way to add WSGI middleware; mypy refuses any assignment to a method.
    app.wsgi_app = RequestIdMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    request_started.connect(_remember_request_id, app)
