"""Streamed CSV: a line at a time, so exports of any size never time out or fill memory."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from flask import Response, stream_with_context

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: str) -> str:
    """Free text from people (names, titles) cannot start a spreadsheet formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


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
