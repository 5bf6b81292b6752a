"""Admin pages: find and page through people, change roles, close and reopen accounts."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from portal.accounts import services
from portal.accounts.models import Role, User
from portal.core.audit import AuditEntry
from portal.core.extensions import db
from tests import factories


def test_people_list_searches_filters_and_pages(as_role: Any, users: dict[str, Any]) -> None:
    for number in range(30):
        factories.user(name=f"Storyteller {number:02d}")
    factories.user(name="Zainab 100% Ahmed", email="zainab@example.test")
    admin = as_role("admin")
    first = admin.get("/admin/users").get_data(as_text=True)
    assert "35 people found" in first and "Page 1 of 2" in first
    second = admin.get("/admin/users?page=2").get_data(as_text=True)
    assert "Storyteller 29" in second or "Zainab" in second
    found = admin.get("/admin/users?q=zainab").get_data(as_text=True)
    assert "1 person found" in found and "Zainab 100% Ahmed" in found
    assert "1 person found" in admin.get("/admin/users?q=100%25").get_data(as_text=True)  # % is literal
    assert "0 people found" in admin.get("/admin/users?q=_").get_data(as_text=True)  # _ is literal
    staff_only = admin.get("/admin/users?role=staff").get_data(as_text=True)
    assert "1 person found" in staff_only and "Staff Person" in staff_only


def test_people_search_answers_htmx_with_the_results_block(as_role: Any, users: dict[str, Any]) -> None:
    response = as_role("admin").get("/admin/users?q=finance", headers={"HX-Request": "true"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert page.lstrip().startswith('<div id="results">') and "<html" not in page
    assert "Finance Person" in page and "Member Person" not in page
    assert "HX-Request" in response.headers["Vary"]
    boosted = as_role("admin").get("/admin/users", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in boosted.get_data(as_text=True)


def test_change_role_is_audited(as_role: Any, users: dict[str, Any]) -> None:
    member = users["member"]
    response = as_role("admin").post(f"/admin/users/{member.id}/role", data={"role": "staff"})
    assert response.status_code == 303
    assert db.session.get(User, member.id).role == Role.STAFF
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "user.role_changed"))
    assert entry.actor_id == users["admin"].id and entry.object_id == str(member.id)
    assert (entry.before, entry.after) == ({"role": "member"}, {"role": "staff"})


def test_invalid_role_is_refused_and_changes_nothing(as_role: Any, users: dict[str, Any]) -> None:
    member = users["member"]
    response = as_role("admin").post(f"/admin/users/{member.id}/role", data={"role": "emperor"})
    assert response.status_code == 422 and "Not a valid choice" in response.get_data(as_text=True)
    assert db.session.get(User, member.id).role == Role.MEMBER
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0


def test_deactivate_keeps_everything_and_is_audited(as_role: Any, users: dict[str, Any]) -> None:
    member = users["member"]
    project = factories.project(lead=member)
    member_client = as_role("member")
    admin = as_role("admin")
    response = admin.post(f"/admin/users/{member.id}/deactivate", data={"reason": "Asked to leave", "confirm": "yes"})
    assert response.status_code == 303
    assert member_client.get("/dashboard").status_code == 303  # signed out at once
    person = db.session.get(User, member.id)
    assert not person.is_active
    assert db.session.scalar(sa.select(sa.func.count()).select_from(type(project)))  # nothing lost
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "user.deactivated"))
    assert entry.note == "Asked to leave" and entry.actor_id == users["admin"].id
    assert "Closed" in admin.get("/admin/users").get_data(as_text=True)

    assert admin.post(f"/admin/users/{member.id}/reactivate", data={}).status_code == 303
    assert db.session.get(User, member.id).is_active
    assert db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "user.reactivated"))


def test_the_last_admin_cannot_be_demoted_or_closed(app: Any, users: dict[str, Any]) -> None:
    admin = users["admin"]
    other = factories.user(role=Role.ADMIN)
    services.change_role(other, Role.MEMBER, by=admin)  # fine: admin remains
    db.session.commit()
    for action in (
        lambda: services.change_role(admin, Role.MEMBER, by=other),
        lambda: services.deactivate(admin, by=other),
    ):
        try:
            action()
        except services.AccountError as error:
            assert "last admin" in error.message
        else:
            raise AssertionError("the last admin was removed")
    assert admin.role == Role.ADMIN and admin.is_active


def test_audit_log_filters_and_pages(as_role: Any, users: dict[str, Any]) -> None:
    factories.audit_entries(30, actor=users["admin"], target=users["member"])
    services.change_role(users["member"], Role.STAFF, by=users["admin"])
    db.session.commit()
    admin = as_role("admin")
    page = admin.get("/admin/audit").get_data(as_text=True)
    assert "31 entries" in page and 'rel="next"' in page and 'rel="prev"' not in page  # a keyset page: Older
    rows = page.split("<tbody>")[1]
    assert rows.index("user.role_changed") < rows.index("test.event")  # newest first
    filtered = admin.get("/admin/audit?action=user.role_changed").get_data(as_text=True)
    assert "1 entry" in filtered
    by_actor = admin.get(f"/admin/audit?actor={users['staff'].id}").get_data(as_text=True)
    assert "0 entries" in by_actor
