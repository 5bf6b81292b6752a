"""Keyset ("newer / older") pagination: a page starts after the last row shown, never at an OFFSET.

A list is ordered by a few columns, all in the same direction and ending with a unique one
(``published_at DESC, id DESC``). A page is the first ``per_page`` rows past a *cursor*: the
ordering values of the row the link was made from, as one comparison of row values
(``(published_at, id) < (:p, :i)``) that both SQLite and PostgreSQL answer with an index range
scan, so page 2,000 costs what page 1 does.

Cursors travel in links as opaque, URL-safe text (base64 of a small JSON list). Anyone can edit a
link, so ``decode`` trusts nothing: a cursor that is not exactly the expected list of values
raises ``BadCursor``, which views answer with a 400 page that says what to do (never a 500).
A cursor pointing at a row that has since gone still works: it is a position, not a row.

Counting every match costs more than a page at 100,000 rows, so ``capped_count`` stops at
``COUNT_CAP`` + 1 and pages say "more than 1,000".
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import QueryableAttribute

from portal.core.extensions import db

T = TypeVar("T")
ColumnLike = sa.ColumnElement[Any] | QueryableAttribute[Any]  # Story.id, or any column expression

COUNT_CAP = 1000
MAX_CURSOR_LENGTH = 200  # a real cursor is under 80 characters


class BadCursor(ValueError):
    """A cursor that this list never made (edited, truncated or from another list)."""


@dataclass(frozen=True)
class Key:
    """One ordering column and the Python type of its values (``int``, ``bool`` or ``datetime``)."""

    column: ColumnLike
    kind: type


def encode(values: Sequence[Any]) -> str:
    plain = [value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value for value in values]
    text = json.dumps(plain, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _value(raw: Any, kind: type) -> Any:
    if kind is bool:
        if not isinstance(raw, bool):
            raise BadCursor("not a yes/no value")
        return raw
    if kind is int:
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 2**63 - 1:
            raise BadCursor("not a whole number")
        return raw
    if kind is datetime:
        if not isinstance(raw, str) or len(raw) > 40:
            raise BadCursor("not a moment")
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise BadCursor("not a moment") from None
        if moment.tzinfo is None:
            raise BadCursor("a moment without its time zone")
        return moment.astimezone(UTC)
    raise TypeError(f"keyset keys of type {kind!r} are not supported")


def decode(cursor: str, keys: Sequence[Key]) -> tuple[Any, ...]:
    """The ordering values in ``cursor``, checked against ``keys``; ``BadCursor`` otherwise."""
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
        raise BadCursor("not a cursor")
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        raw = json.loads(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor("not a cursor") from None
    if not isinstance(raw, list) or len(raw) != len(keys):
        raise BadCursor("not a cursor for this list")
    return tuple(_value(item, key.kind) for item, key in zip(raw, keys, strict=True))


@dataclass
class Page(Generic[T]):
    """One page of rows, and the cursors of the pages either side (None at either end)."""

    items: list[T]
    older: str | None  # the next page on (further down the list)
    newer: str | None  # the page before (back towards the top); None on the first page
    total: int | None = None  # capped: COUNT_CAP + 1 means "more than COUNT_CAP"

    @property
    def more_than_cap(self) -> bool:
        return self.total is not None and self.total > COUNT_CAP

    @property
    def shown_total(self) -> int:
        return min(self.total or 0, COUNT_CAP)


def _bound(keys: Sequence[Key], values: Sequence[Any]) -> sa.ColumnElement[Any]:
    """The row of cursor values as bound parameters typed like their columns (so a datetime is
    stored the way the column stores it on SQLite)."""
    return sa.tuple_(
        *(sa.bindparam(None, value, type_=key.column.type) for key, value in zip(keys, values, strict=True))
    )


def paginate(
    query: sa.Select[Any],
    keys: Sequence[Key],
    *,
    values_of: Callable[[Any], Sequence[Any]],
    after: str | None = None,
    before: str | None = None,
    per_page: int,
    descending: bool = True,
    scalars: bool = True,
) -> Page[Any]:
    """A page of ``query`` (which must not be ordered yet) ordered by ``keys``; ``after`` a cursor
    (older rows) or ``before`` one (newer rows), or the first page. ``values_of(row)`` gives a
    row's key values. Raises ``BadCursor`` for a cursor this list did not make."""
    columns = sa.tuple_(*(key.column for key in keys))
    query_without_cursor = query
    backwards = bool(before) and not after
    if after:
        row = _bound(keys, decode(after, keys))
        query = query.where(columns < row if descending else columns > row)
    elif before:
        row = _bound(keys, decode(before, keys))
        query = query.where(columns > row if descending else columns < row)
    towards_top = descending == backwards  # ascending SQL order
    order = [key.column.asc() if towards_top else key.column.desc() for key in keys]
    query = query.order_by(*order).limit(per_page + 1)
    result = db.session.execute(query)
    rows = list(result.unique().scalars() if scalars else result)
    more = len(rows) > per_page
    rows = rows[:per_page]
    if backwards and not more:  # back at the top: the first page as it is, not a short one
        return paginate(
            query_without_cursor, keys, values_of=values_of, per_page=per_page, descending=descending, scalars=scalars
        )
    if backwards:
        rows.reverse()
    first, last = (values_of(rows[0]), values_of(rows[-1])) if rows else (None, None)
    if backwards:
        older = encode(last) if last is not None else None
        newer = encode(first) if first is not None else None
    else:
        older = encode(last) if more and last is not None else None
        newer = encode(first) if after and first is not None else None
    return Page(rows, older, newer)


def capped_count(query: sa.Select[Any], column: ColumnLike, cap: int = COUNT_CAP) -> int:
    """How many rows ``query`` has, counting no further than ``cap`` + 1: only ``column`` (the
    primary key, in every index) is read, so it is one index range read."""
    inner = query.order_by(None).with_only_columns(column, maintain_column_froms=True).limit(cap + 1).subquery()
    return db.session.scalar(sa.select(sa.func.count()).select_from(inner)) or 0


@dataclass
class NameChoice:
    """A filter over thousands of things (projects) as a name to type, not a menu: the thing
    chosen (by id, from a link), or those whose name matches what was typed (at most ``limit``;
    ``more`` when there are others)."""

    typed: str = ""
    chosen_id: int | None = None
    chosen_title: str | None = None
    matches: list[tuple[int, str]] = field(default_factory=list)
    more: bool = False


def choose_by_name(
    typed: str,
    chosen_id: int | None,
    *,
    matching: Callable[[str], list[tuple[int, str]]],
    title_of: Callable[[int | None], str | None],
    limit: int,
    choose_one: bool,
) -> NameChoice:
    """What a typed name picks: with ``choose_one`` (the form was sent), a name only one thing
    matches is that thing; otherwise the matches to choose from. Without a name, the id chosen
    from a link (when it names something)."""
    typed = typed.strip()
    if typed:
        found = matching(typed)  # at most limit + 1
        if choose_one and len(found) == 1:
            return NameChoice(typed, found[0][0], found[0][1])
        return NameChoice(typed, matches=found[:limit], more=len(found) > limit)
    title = title_of(chosen_id)
    return NameChoice(chosen_id=chosen_id if title is not None else None, chosen_title=title)


def link_args(args: Any, choice: NameChoice, *, name: str = "project", typed: str = "project_name") -> dict[str, str]:
    """The query's arguments for a page's links: every filter set kept (empty ones left out), the
    page's own cursor and the typed name dropped, and the thing chosen by its id."""
    dropped = ("after", "before", "page", "suggest", typed, name)
    kept = {key: value for key, value in args.items() if value and key not in dropped}
    if choice.chosen_id is not None:
        kept[name] = str(choice.chosen_id)
    return kept
