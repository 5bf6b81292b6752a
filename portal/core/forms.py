"""Helpers shared by every domain's forms."""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import urlsplit

from flask_wtf import FlaskForm

# types-wtforms still describes WTForms 3.2, which had no SelectChoice (3.3): to mypy it is Any.
from wtforms import SelectChoice  # type: ignore[attr-defined]

from portal.core.errors import RuleBroken
from portal.core.request_checks import LARGEST_ID

T = TypeVar("T")


def attach_error(form: FlaskForm, field: str, message: str) -> bool:
    """Show a service's error next to the field it is about (or the form's first field).

    False when the form has no field to hold it (a button's form is only its CSRF token)."""
    shown = [name for name in form._fields if name != "csrf_token"]
    if not shown:
        return False
    target = form._fields.get(field) or form._fields[shown[0]]
    target.errors = [*target.errors, message]
    return True


def is_id(text: str) -> bool:
    """A plain ASCII number an id can have (1 to 2**31 - 1): not ``²`` or ``١``, which ``isdigit``
    accepts, and not a number past what PostgreSQL's ``integer`` holds."""
    return 0 < len(text) <= 10 and text.isascii() and text.isdigit() and 0 < int(text) <= LARGEST_ID


def safe_next(url: str | None, default: str) -> str:
    """A path on this site to go to next (after signing in); anything else falls back to ``default``.

    Refused: another site (``https://...``, scheme-relative ``//host``, ``/\\host`` that browsers
    read as ``//host``), anything not starting with one ``/``, and control characters, tabs,
    newlines and backslashes, which browsers strip or rewrite into another address."""
    if not url or len(url) > 2000:
        return default
    if any(ord(character) < 0x20 or ord(character) == 0x7F or character == "\\" for character in url):
        return default
    if not url.startswith("/") or url.startswith("//"):
        return default
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return default
    return url


def choices(pairs: list[tuple[str, str]]) -> list[SelectChoice]:
    """Options for a SelectField from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def given(value: T | None) -> T:
    """A value the form's validators already required: never None once the form has validated.

    Called inside a change, so if it ever is None the change is refused by the form, not a 500.
    """
    if value is None:
        raise RuleBroken("", "Answer every question marked as needed.")
    return value
