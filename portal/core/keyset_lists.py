"""Keyset pagination for long lists ("Newer / Older"): no OFFSET, so the thousandth page costs
what the first does.

A list is a ``select`` ordered by one sort column and then the id, both descending (newest first)
or both ascending (longest waiting first). A page's links carry a cursor, the (sort key, id) of
the row the page ends or starts with, as plain text (``2026-11-30T09:15:00+00:00~4512``):
``?after=`` is the page after that row in the list's order, ``?before=`` the page before it. Each
page is one query of ``PAGE_SIZE + 1`` rows (the extra row says whether there is more).

A cursor that is not one (wrong shape, a date that does not exist, an id out of range, both
directions at once) is answered with a 400 page that says to start again; never a 500. A sort
column that may be empty (``nullable=True``) keeps the empty rows at the end of the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from flask import abort, current_app, request

from portal.core.extensions import db

T = TypeVar("T")

SEPARATOR = "~"
LARGEST_ID = 2**31 - 1
LARGEST_INT_KEY = 2**63 - 1
LONGEST_CURSOR = 400  # a title of up to 200 characters and its id
BAD_CURSOR = "This page link is not one the portal made. Go back to the first page of the list and try again."


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Cursor:
    key: Any  # a datetime (UTC), a date, an int, a str, or None for an empty sort column
    id: int


def _key_text(key: Any) -> str:
    if key is None:
        return ""
    if isinstance(key, str):
        return key
    if isinstance(key, datetime):
        return (key if key.tzinfo else key.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    if isinstance(key, date | int):
        return key.isoformat() if isinstance(key, date) else str(key)
    raise TypeError(f"cannot page by a {type(key).__name__}")


def encode(key: Any, row_id: int) -> str:
    """The cursor text for a row: its sort key and id."""
    return f"{_key_text(key)}{SEPARATOR}{row_id}"


def _digits(text: str, largest: int) -> int:
    if not text or len(text) > 19 or not text.isascii() or not text.isdigit():
        raise BadCursor(text)
    number = int(text)
    if number > largest:
        raise BadCursor(text)
    return number


def decode(text: str, kind: type) -> Cursor:
    """Read a cursor whose sort key is of python type ``kind``; ``BadCursor`` if it is not one."""
    key_text, separator, id_text = text.rpartition(SEPARATOR)
    if not separator or len(text) > LONGEST_CURSOR:
        raise BadCursor(text)
    row_id = _digits(id_text, LARGEST_ID)
    if row_id < 1:
        raise BadCursor(text)
    if not key_text:
        return Cursor(None, row_id)
    if kind is str:  # a title: any text the column could hold (the id after the last ~ ends it)
        return Cursor(key_text, row_id)
    if not key_text.isascii():
        raise BadCursor(text)
    try:
        if kind is datetime:
            moment = datetime.fromisoformat(key_text)
            if moment.tzinfo is None:
                raise BadCursor(text)
            return Cursor(moment.astimezone(UTC), row_id)
        if kind is date:
            return Cursor(date.fromisoformat(key_text), row_id)
    except (ValueError, OverflowError) as error:
        raise BadCursor(text) from error
    if kind is int:
        return Cursor(_digits(key_text, LARGEST_INT_KEY), row_id)
    raise BadCursor(text)


@dataclass(frozen=True)
class KeysetPage(Generic[T]):
    """One page of a keyset list: its rows and the cursors of the pages either side (None at an end)."""

    items: list[T]
    previous: str | None  # ?before= for the page before this one (newer, or waiting less long)
    next: str | None  # ?after= for the page after this one (older, or waiting longer)

    @property
    def has_other_pages(self) -> bool:
        return self.previous is not None or self.next is not None


def _python_type(column: sa.ColumnElement[Any]) -> type:
    """The column's Python type, seen through a ``TypeDecorator`` (``UTCDateTime`` is a datetime)."""
    column_type = column.type
    if isinstance(column_type, sa.TypeDecorator):
        column_type = column_type.impl_instance
    kind: type = column_type.python_type
    return kind


def _beyond(
    key: sa.ColumnElement[Any], row_id: sa.ColumnElement[int], cursor: Cursor, *, forward: bool, nullable: bool
) -> sa.ColumnElement[bool]:
    """The rows that come after ``cursor`` (``forward``) or before it, in ascending (key, id)
    order with empty keys last. Written as ``key >= k AND (key > k OR id > i)`` so both
    databases read it as a range of the (…, key, id) index."""
    if cursor.key is None:  # among the empty keys, which come last
        if forward:
            return sa.and_(key.is_(None), row_id > cursor.id)
        return sa.or_(key.is_not(None), sa.and_(key.is_(None), row_id < cursor.id))
    typed = sa.literal(cursor.key, type_=key.type)
    if forward:
        condition = sa.and_(key >= typed, sa.or_(key > typed, row_id > cursor.id))
        return sa.or_(condition, key.is_(None)) if nullable else condition
    return sa.and_(key <= typed, sa.or_(key < typed, row_id < cursor.id))


def keyset_page(
    query: sa.Select[Any],
    key: Any,
    row_id: Any,
    *,
    descending: bool,
    nullable: bool = False,
    per_page: int | None = None,
    row_key: Any = None,
) -> KeysetPage[Any]:
    """One page of ``query`` (a select of one model; any ORDER BY of its own is replaced) ordered
    by (``key``, ``row_id``), from the request's ``?after=`` or ``?before=`` cursor. ``row_key(row)``
    gives a row's (key, id); by default its attributes named like the columns.

    Descending lists are mirrored: "after" a row means "older" there, so the comparison flips. An
    empty key (``nullable``) is allowed in ascending lists only, where such rows come last."""
    if nullable and descending:
        raise ValueError("empty sort keys are kept last in ascending lists only")
    after_text = request.args.get("after")
    before_text = request.args.get("before")
    if after_text is not None and before_text is not None:
        abort(400, description=BAD_CURSOR)
    kind = _python_type(key)
    try:
        cursor = decode(after_text or before_text or "", kind) if (after_text or before_text) else None
    except BadCursor:
        abort(400, description=BAD_CURSOR)
    if cursor is None and (after_text is not None or before_text is not None):  # ?after= with nothing
        abort(400, description=BAD_CURSOR)
    size = per_page or int(current_app.config["PAGE_SIZE"])
    backwards = before_text is not None  # fetch the rows before the cursor, nearest first
    # In ascending (key, id) terms: an ascending list walks forward, a descending list walks backward.
    ascending_walk = descending == backwards

    def ordered(column: sa.ColumnElement[Any], *, is_key: bool) -> sa.ColumnElement[Any]:
        clause = column.asc() if ascending_walk else column.desc()
        if is_key and nullable:
            # empty keys last in the list: last walking forward, first walking back
            clause = clause.nulls_last() if ascending_walk else clause.nulls_first()
        return clause

    if cursor is not None:
        query = query.where(_beyond(key, row_id, cursor, forward=ascending_walk, nullable=nullable))
    query = query.order_by(None).order_by(ordered(key, is_key=True), ordered(row_id, is_key=False)).limit(size + 1)
    rows = list(db.session.scalars(query))
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    read = row_key or (lambda row: (getattr(row, key.key), getattr(row, row_id.key)))
    first = encode(*read(rows[0])) if rows else None
    last = encode(*read(rows[-1])) if rows else None
    if backwards:
        previous, following = (first if more else None), last
    else:
        previous = first if cursor is not None and rows else None
        following = last if more else None
    return KeysetPage(items=rows, previous=previous, next=following)


def capped_count(query: sa.Select[Any], cap: int = 1000) -> tuple[int, bool]:
    """How many rows ``query`` finds, counting no further than ``cap``: (count, whether there are more).

    Only the query's tables and conditions are used (not its columns, loader options or order).
    An exact count over a million rows costs more than the page; "1,000+" says enough."""
    inner = sa.select(sa.literal(1)).select_from(*query.get_final_froms())
    if query.whereclause is not None:
        inner = inner.where(query.whereclause)
    found = int(db.session.scalar(sa.select(sa.func.count()).select_from(inner.limit(cap + 1).subquery())) or 0)
    return min(found, cap), found > cap
