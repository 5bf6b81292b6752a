"""List pages make the same number of queries with 5 rows as with 50 (no N+1)."""

from __future__ import annotations

from typing import Any

from tests import factories
from tests.helpers import queries_for


def test_people_list(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    app.config["PAGE_SIZE"] = 100  # every row on one page
    admin = as_role("admin")
    for _ in range(5):
        factories.user()
    with_few = queries_for(admin, "/admin/users")
    for _ in range(45):
        factories.user()
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "54 people found" in page and "Page 1 of" not in page
    assert queries_for(admin, "/admin/users") == with_few


def test_audit_log(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    app.config["PAGE_SIZE"] = 100
    admin = as_role("admin")
    factories.audit_entries(5, actor=users["admin"], target=users["member"])
    with_few = queries_for(admin, "/admin/audit")
    many_actors = [factories.user(role="admin") for _ in range(10)]
    for actor in many_actors:
        factories.audit_entries(5, actor=actor, target=users["member"])
    assert queries_for(admin, "/admin/audit") == with_few
