"""Streamed CSV: a line at a time, so exports of any size never time out or fill memory."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from flask import Response, stream_with_context
from sqlalchemy.orm import QueryableAttribute

from portal.core.extensions import db

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: str) -> str:
    """Free text from people (names, titles) cannot start a spreadsheet formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def key_batches(
    key: QueryableAttribute[int],
    columns: Sequence[QueryableAttribute[Any]] = (),
    *,
    keep: Callable[[sa.Row[Any]], bool] | None = None,
    size: int = 500,
) -> Iterator[list[int]]:
    """The primary keys of a table in order, ``size`` rows a step, those ``keep`` accepts.

    Each step is ``WHERE key > last ORDER BY key LIMIT size`` and nothing else, so both databases
    walk the primary key: an export's cost grows with its rows, never with their square (a filter
    in the same query lets SQLite pick a filter's index instead and sort what is left at every
    step). ``columns`` are read beside the key for ``keep`` to decide on; the caller loads the
    rows it keeps by key (``key.in_(batch)``), a step at a time, so memory stays flat."""
    last = 0
    while True:
        rows = db.session.execute(sa.select(key, *columns).where(key > last).order_by(key).limit(size)).all()
        if not rows:
            return
        last = rows[-1][0]
        kept = [row[0] for row in rows if keep is None or keep(row)]
        if kept:
            yield kept


def csv_lines(header: list[str], rows: Iterable[list[str]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(values: list[str]) -> str:
        writer.writerow(values)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(header)
    for row in rows:
        yield line(row)


def csv_response(filename: str, header: list[str], rows: Iterable[list[str]]) -> Response:
    response = Response(stream_with_context(csv_lines(header, rows)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
