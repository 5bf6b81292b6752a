"""EXPLAIN for the story library's and the learning feed's queries, on the current database.

``explain_queries()`` runs the pages' own functions (a visitor's and a member's first page, a
keyset page further down, a filtered page and a word search), records each SQL statement they
send, and asks the database how it runs each one (``EXPLAIN QUERY PLAN`` on SQLite, ``EXPLAIN``
on PostgreSQL). The benchmark prints it, so the plans (index range reads, no sort of every
story) can be checked at 100,000 rows on both databases. Run inside an application context.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from portal.core.extensions import db
from portal.learning import posts
from portal.stories import library

MEMBER = SimpleNamespace(is_authenticated=True, is_active=True, id=0, role=None)


def _captured(run: Callable[[], Any]) -> list[tuple[str, Any]]:
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return statements


def _plan(statement: str, parameters: Any) -> str:
    postgresql = db.engine.dialect.name == "postgresql"
    prefix = "EXPLAIN " if postgresql else "EXPLAIN QUERY PLAN "
    with db.engine.connect() as connection:
        rows = connection.exec_driver_sql(prefix + statement, parameters).all()
    if postgresql:
        return "\n".join(str(row[0]) for row in rows)
    return "\n".join(str(row[-1]) for row in rows)


def _pages(per_page: int) -> list[tuple[str, Callable[[], Any]]]:
    runs: list[tuple[str, Callable[[], Any]]] = []
    for who, viewer in (("visitor", None), ("member", MEMBER)):
        first = library.library_page(viewer, library.Filters(), per_page=per_page)
        runs.append(
            (
                f"library, {who}, first page",
                lambda v=viewer: library.library_page(v, library.Filters(), per_page=per_page),
            )
        )
        if first.older:
            runs.append(
                (
                    f"library, {who}, the next page (keyset)",
                    lambda v=viewer, c=first.older: library.library_page(
                        v, library.Filters(), after=c, per_page=per_page
                    ),
                )
            )
        runs.append(
            (
                f"library, {who}, a theme",
                lambda v=viewer: library.library_page(v, library.Filters(theme="connecting"), per_page=per_page),
            )
        )
        runs.append(
            (
                f"library, {who}, word search",
                lambda v=viewer: library.library_page(v, library.Filters(words="care"), per_page=per_page),
            )
        )
        feed = posts.feed_page(viewer, per_page=per_page)
        runs.append((f"feed, {who}, first page", lambda v=viewer: posts.feed_page(v, per_page=per_page)))
        if feed.older:
            runs.append(
                (
                    f"feed, {who}, the next page (keyset)",
                    lambda v=viewer, c=feed.older: posts.feed_page(v, after=c, per_page=per_page),
                )
            )
    return runs


def explain_queries(per_page: int = 25) -> list[tuple[str, str, str]]:
    """(what, SQL, plan) for every SELECT the library and the feed send, as visitor and member."""
    found: list[tuple[str, str, str]] = []
    for label, run in _pages(per_page):
        for statement, parameters in _captured(run):
            found.append((label, statement, _plan(statement, parameters)))
    db.session.rollback()
    return found


def report(per_page: int = 25) -> str:
    """The plans as text, for the benchmark's output."""
    lines = [f"EXPLAIN on {db.engine.dialect.name}:"]
    for label, statement, plan in explain_queries(per_page):
        lines += [f"-- {label}", " ".join(statement.split())[:300], *("   " + line for line in plan.splitlines())]
    return "\n".join(lines)
