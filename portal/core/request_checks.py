"""Checks every request passes before any view runs: no NUL characters, ids in range.

PostgreSQL refuses a NUL character in text (and SQLite keeps it silently), so a NUL anywhere in
the path, the query string or a form is answered with a clear 400 page before a handler, the
database or the rate limiter sees it: nothing changes. Ids in URLs (``<int:...>``) match only
plain ASCII numbers from 1 to 2**31 - 1, the range of the database's ``integer`` columns, so a
huge id is "page not found" and never an overflow error from PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter, Map

# The largest value an ``integer`` column holds on PostgreSQL (and so the largest id there is).
LARGEST_ID = 2**31 - 1
NUL = "\x00"
NUL_MESSAGE = (
    "Something you sent contains a hidden character (NUL) that the portal cannot store. "
    "Nothing was changed. Go back, retype or paste the text again without it, and try again."
)


class IdConverter(IntegerConverter):
    """``<int:...>`` for ids: ASCII digits only (not other scripts' digits), from 1 to ``LARGEST_ID``."""

    regex = r"[0-9]{1,10}"

    def __init__(self, map: Map, fixed_digits: int = 0, min: int = 1, max: int = LARGEST_ID) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max)


def _has_nul(values: Iterable[str]) -> bool:
    return any(NUL in value for value in values)


def _pairs(multidict: Any) -> list[str]:
    return [text for key, value in multidict.items(multi=True) for text in (key, value)]


def refuse_nul() -> None:
    """400 when the path, the query or the form holds a NUL (``%00`` once decoded)."""
    if NUL in request.path or "%00" in request.query_string.decode("latin-1") or _has_nul(_pairs(request.args)):
        abort(400, description=NUL_MESSAGE)
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        filenames = [upload.filename or "" for upload in request.files.values()]
        if _has_nul(_pairs(request.form)) or _has_nul(filenames) or _has_nul(request.files.keys()):
            abort(400, description=NUL_MESSAGE)


def use_id_converter(app: Flask) -> None:
    """Before any blueprint is registered, so every ``<int:...>`` rule is built with it."""
    app.url_map.converters["int"] = IdConverter


def register_request_checks(app: Flask) -> None:
    # First of all the before-request hooks: before CSRF, the rate limiter and the views.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_nul)
