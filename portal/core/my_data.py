"""A person's own data: every area says what it holds about a person (``register_export``) and
how to erase it (``register_eraser``), so "Download my data" and "Erase me" (in accounts) reach
every domain without the people layer importing the domains above it.

Each area registers from its own ``my_data`` module, which the application factory imports
(``portal.app.MY_DATA``). An exporter returns the person's records of one kind as plain rows
(one or a few queries, however many rows); an eraser erases or anonymises that kind in the
caller's transaction and returns the stored files to delete once it has committed.

A record shared with other people (a co-written application, a message received) is exported
with ids and the person's own words only: never another person's name, email or words.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from portal.core.csv_export import text_cell

Row = dict[str, Any]
StoredFile = tuple[str, str]  # (upload kind, stored name), for ``core.uploads.remove`` once committed


@dataclass(frozen=True)
class Export:
    kind: str  # the file's name in the zip: "claims" gives claims.json (and claims.csv)
    description: str  # one line for README.txt: what the file holds
    rows: Callable[[Any], list[Row]]  # the person's records of this kind
    tabular: bool = False  # also written as CSV (claims, bookings, audit)


@dataclass(frozen=True)
class Eraser:
    kind: str
    erase: Callable[[Any, str], list[StoredFile]]  # (person, reference) -> files to delete after the commit
    order: int = 50  # lower first: content before the account that owns it


EXPORTS: dict[str, Export] = {}
ERASERS: dict[str, Eraser] = {}
# Checks that may hold an erasure back: (person) -> why not yet, or "" (money still owed to them).
ERASE_CHECKS: list[Callable[[Any], str]] = []


def register_export(kind: str, description: str, *, tabular: bool = False) -> Callable[[Any], Any]:
    """Decorate a function ``(person) -> list[dict]`` as the exporter of one kind of record."""

    def add(rows: Callable[[Any], list[Row]]) -> Callable[[Any], list[Row]]:
        known = EXPORTS.get(kind)
        if known is not None and known.rows is not rows:
            raise LookupError(f"Two exporters are named {kind!r}")
        EXPORTS[kind] = Export(kind, description, rows, tabular)
        return rows

    return add


def register_eraser(kind: str, *, order: int = 50) -> Callable[[Any], Any]:
    """Decorate a function ``(person, reference) -> list[StoredFile]`` that erases one kind of record."""

    def add(erase: Callable[[Any, str], list[StoredFile]]) -> Callable[[Any, str], list[StoredFile]]:
        known = ERASERS.get(kind)
        if known is not None and known.erase is not erase:
            raise LookupError(f"Two erasers are named {kind!r}")
        ERASERS[kind] = Eraser(kind, erase, order)
        return erase

    return add


def register_erase_check(check: Callable[[Any], str]) -> Callable[[Any], str]:
    """Decorate a function ``(person) -> str`` that says why this person cannot be erased yet."""
    if check not in ERASE_CHECKS:
        ERASE_CHECKS.append(check)
    return check


def reasons_not_to_erase(person: Any) -> list[str]:
    return [reason for check in ERASE_CHECKS if (reason := check(person))]


def collect(person: Any) -> dict[str, list[Row]]:
    """Every kind's rows for ``person``, by kind, in name order."""
    return {kind: EXPORTS[kind].rows(person) for kind in sorted(EXPORTS)}


def erase_everything(person: Any, reference: str) -> list[StoredFile]:
    """Run every eraser in order; the stored files to delete after the commit."""
    files: list[StoredFile] = []
    for eraser in sorted(ERASERS.values(), key=lambda e: (e.order, e.kind)):
        files.extend(eraser.erase(person, reference))
    return files


def plain(value: Any) -> Any:
    """A value as JSON and CSV can hold it: dates as ISO text, money stays integer pence."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return value


def _csv(rows: list[Row]) -> str:
    columns: list[str] = []
    for row in rows:
        columns.extend(name for name in row if name not in columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        cells = []
        for name in columns:
            value = plain(row.get(name))
            if isinstance(value, dict | list):
                value = json.dumps(value, ensure_ascii=False, sort_keys=True)
            cells.append(text_cell(value) if isinstance(value, str) else ("" if value is None else str(value)))
        writer.writerow(cells)
    return buffer.getvalue()


README_TOP = (
    "Everything the Co-Production Portal holds about you, made on {made}.\n\n"
    "Each kind of record is one JSON file (a list of records). Claims, bookings and audit entries\n"
    "are also CSV files, to open in a spreadsheet. Money is in pence (1250 is £12.50); times are UTC.\n"
    "Records you share with other people (an application, a message you were sent) name them by\n"
    "their id only, and hold only your own words.\n\nThe files:\n\n"
)


def build_zip(data: dict[str, list[Row]], *, made: datetime) -> bytes:
    """The zip, in memory (a person's records are small): README.txt, then a file per kind."""
    buffer = io.BytesIO()
    readme = [README_TOP.format(made=made.strftime("%-d %B %Y, %H:%M UTC"))]
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for kind, rows in data.items():
            export = EXPORTS[kind]
            names = [f"{kind}.json"] + ([f"{kind}.csv"] if export.tabular else [])
            readme.append(f"{' and '.join(names)}: {export.description} ({len(rows)} records)\n")
            archive.writestr(f"{kind}.json", json.dumps(plain(rows), ensure_ascii=False, indent=2, sort_keys=True))
            if export.tabular:
                archive.writestr(f"{kind}.csv", _csv(rows))
        archive.writestr("README.txt", "".join(readme))
    return buffer.getvalue()
