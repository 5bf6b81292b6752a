"""List pages make the same number of queries with 5 rows as with 50 (no N+1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from portal.core.extensions import db
from tests import factories


@contextmanager
def count_queries() -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("PRAGMA", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


def _queries_for(client: Any, url: str) -> int:
    client.get(url)  # warm up: first request loads things once per process
    with count_queries() as statements:
        assert client.get(url).status_code == 200
    return len(statements)


def test_people_list(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    app.config["PAGE_SIZE"] = 100  # every row on one page
    admin = as_role("admin")
    for _ in range(5):
        factories.user()
    with_few = _queries_for(admin, "/admin/users")
    for _ in range(45):
        factories.user()
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "54 people found" in page and "Page 1 of" not in page
    assert _queries_for(admin, "/admin/users") == with_few


def test_audit_log(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    app.config["PAGE_SIZE"] = 100
    admin = as_role("admin")
    factories.audit_entries(5, actor=users["admin"], target=users["member"])
    with_few = _queries_for(admin, "/admin/audit")
    many_actors = [factories.user(role="admin") for _ in range(10)]
    for actor in many_actors:
        factories.audit_entries(5, actor=actor, target=users["member"])
    assert _queries_for(admin, "/admin/audit") == with_few
