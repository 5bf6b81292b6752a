"""Rendering helpers shared by every blueprint, and the error pages.

``render`` returns a whole page, or one block of it to a (non-boosted) HTMX request, and
always says ``Vary: HX-Request`` so caches keep the two apart. ``redirect_to`` answers HTMX
with ``HX-Redirect`` instead of a 302 that htmx would swap into a fragment.
"""

from __future__ import annotations

import contextlib
import errno
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, current_app, g, make_response, redirect, render_template, request
from flask_sqlalchemy.pagination import Pagination
from flask_wtf.csrf import CSRFError
from jinja2_fragments.flask import render_block
from sqlalchemy import Select
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from portal.core.db import database_unreachable
from portal.core.errors import NotAllowed, RuleBroken
from portal.core.extensions import db
from portal.core.uploads import DISK_FULL, StorageUnavailable


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def is_boosted() -> bool:
    return request.headers.get("HX-Boosted") == "true"


def wants_fragment() -> bool:
    """An htmx request for part of a page: not a boosted link, and not the back button's
    history restore (htmx keeps no history cache here, so it asks for the whole page)."""
    return is_htmx() and not is_boosted() and request.headers.get("HX-History-Restore-Request") != "true"


def render(template: str, *, block: str | None = None, status: int = 200, **context: Any) -> Response:
    if block and wants_fragment():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    response.vary.add("HX-History-Restore-Request")
    return response


# No list has this many pages; a larger ``?page=`` is shown as this one (an empty page past the end),
# so the offset stays far inside what PostgreSQL accepts.
LAST_PAGE = 100_000


def whole_number(value: str | None, *, default: int | None = None, largest: int = 2**31 - 1) -> int | None:
    """A query parameter read as a plain number: ASCII digits only (Python's ``int`` also takes
    other scripts' digits, spaces and ``_``), at most ``largest``; ``default`` when it is not one."""
    text = (value or "").strip()
    if not text or not text.isascii() or not text.isdigit():
        return default
    return largest if len(text) > 18 else min(int(text), largest)


def page_number(name: str = "page") -> int:
    """The ``?page=`` asked for (1 when missing or not a positive number, at most ``LAST_PAGE``)."""
    number = whole_number(request.args.get(name), default=1, largest=LAST_PAGE) or 1
    return max(number, 1)


def paginate(query: Select[Any], *, per_page: int | None = None) -> Pagination:
    """One page of ``query`` (``?page=``), ``PAGE_SIZE`` rows unless told; past the end is empty, not 404."""
    return db.paginate(query, page=page_number(), per_page=per_page or current_app.config["PAGE_SIZE"], error_out=False)


def redirect_to(url: str, status: int = 303) -> Response:
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    # ``redirect`` is typed as returning Werkzeug's Response; it makes the app's response class,
    # which ``make_response`` hands back as it is, typed as Flask's.
    return make_response(redirect(url, status))


ERROR_PAGES = {
    400: ("errors/400.html", "This request could not be understood"),
    403: ("errors/403.html", "You do not have permission to see this page"),
    404: ("errors/404.html", "Page not found"),
    405: ("errors/400.html", "This request could not be understood"),
    413: ("errors/413.html", "That file is too large"),
    429: ("errors/429.html", "Too many attempts"),
    500: ("errors/500.html", "Sorry, something went wrong"),
}


def _error_page(template: str, status: int, *, bare: bool = False, **context: Any) -> Response:
    """An error page; ``bare`` renders it without Flask's context processors: Flask-Login's
    loads the signed-in person (a query) for every template it renders, so the 500 and 503
    pages (errors/_minimal.html, which needs only ``url_for``) are rendered straight by Jinja."""
    if bare:
        page = current_app.jinja_env.get_template(template)
        response = make_response(page.render(request_id=getattr(g, "request_id", ""), **context), status)
    else:
        response = render(template, status=status, **context)
    if is_htmx():
        # Show the error in place of the page's main content, not inside a small fragment.
        response.headers["HX-Retarget"] = "#main"
        response.headers["HX-Reselect"] = "#main"
        response.headers["HX-Reswap"] = "outerHTML"
    return response


# Writing failed because the disk is full or will not be written: a 507 or 503 page, not a 500.
STORAGE_ERRNOS = DISK_FULL | {errno.EROFS, errno.EACCES, errno.EPERM}
RETRY_AFTER_SECONDS = "120"


def _rollback_quietly() -> None:
    """Roll back what the request began; with the database gone the rollback fails too, and the
    connection is then thrown away (the pool pings before it hands out another)."""
    try:
        db.session.rollback()
    except sa.exc.SQLAlchemyError:
        with contextlib.suppress(sa.exc.SQLAlchemyError):
            db.session().invalidate()


def _unreachable_page() -> Response:
    """503 from the minimal layout (errors/503.html): it asks the database nothing, not even who
    is signed in, so it shows while the database is down or hung."""
    _rollback_quietly()
    response = _error_page("errors/503.html", 503, bare=True, title="We cannot reach our records")
    response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return response


def _storage_page(full: bool) -> Response:
    db.session.rollback()  # no row for a file that was not kept
    status = 507 if full else 503
    title = "Our file storage is full" if full else "We cannot save files at the moment"
    response = _error_page("errors/storage.html", status, title=title, full=full)
    response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def expired_form(error: CSRFError) -> Response:
        return _error_page("errors/expired_form.html", 400, title="This form has expired")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> BaseResponse:
        if error.code not in ERROR_PAGES:
            return error.get_response()
        template, title = ERROR_PAGES[error.code]
        # A description the portal gave (``abort(400, description=...)``) says what to do; Werkzeug's own does not.
        reason = error.description if error.description != type(error).description else None
        response = _error_page(template, error.code, title=title, error=error, reason=reason)
        if error.code == 429 and error.get_headers():
            for name, value in error.get_headers():
                if name.lower().startswith(("retry-after", "x-ratelimit")):
                    response.headers[name] = value
        return response

    @app.errorhandler(NotAllowed)
    def not_allowed(error: NotAllowed) -> Response:
        db.session.rollback()
        return _error_page("errors/403.html", 403, title=ERROR_PAGES[403][1], reason=str(error) or None)

    @app.errorhandler(RuleBroken)
    def rule_broken(error: RuleBroken) -> Response:
        # A view that let a domain rule escape: nothing it began is kept, and the person reads why.
        db.session.rollback()
        return _error_page("errors/422.html", 422, title="That could not be done", reason=error.message)

    @app.errorhandler(sa.exc.DBAPIError)
    @app.errorhandler(sa.exc.TimeoutError)
    def database_error(error: sa.exc.SQLAlchemyError) -> Response:
        if not database_unreachable(error):
            raise error  # a bug, not an outage: the 500 page (or the test sees it)
        app.logger.warning("The database could not be reached: %s", error)
        return _unreachable_page()

    @app.errorhandler(StorageUnavailable)
    def storage_unavailable(error: StorageUnavailable) -> Response:
        app.logger.error("An upload could not be written: %s", error.__cause__)
        return _storage_page(error.full)

    @app.errorhandler(OSError)
    def disk_error(error: OSError) -> Response:
        if error.errno not in STORAGE_ERRNOS:
            raise error
        app.logger.error("A file could not be written: %s", error)
        return _storage_page(error.errno in DISK_FULL)

    @app.errorhandler(500)
    def server_error(error: Exception) -> Response:
        # The 500 and 503 pages use the minimal layout (errors/_minimal.html), which asks the
        # database nothing (not who is signed in, nor their unread count), so they render even
        # when the fault is the database.
        _rollback_quietly()  # nothing half-done is committed by a later request
        original = getattr(error, "original_exception", None)
        if original is not None and database_unreachable(original):
            return _unreachable_page()
        template, title = ERROR_PAGES[500]
        return _error_page(template, 500, bare=True, title=title)
