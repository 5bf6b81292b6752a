"""The views' one way to apply a change (core.changes.apply / done / refused), through the client:
a broken rule keeps nothing and is shown by its field with 422, a stale save says so, htmx gets
HX-Redirect, a refusal from a service is 403, and page numbers below one show the first page."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from portal.accounts import services as accounts
from portal.accounts.models import Role, User
from portal.core.audit import AuditEntry
from portal.core.errors import NotAllowed, RuleBroken
from portal.core.extensions import db
from portal.directory import services as directory
from portal.directory.models import DirectoryEntry, PeerMessage
from portal.gatherings.models import Rsvp
from tests import factories
from tests.test_directory import ENTRY_FORM, client_for, list_person
from tests.test_gatherings_services import book, make_gathering


def _count(model: type[Any]) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def test_a_rule_broken_after_writing_keeps_nothing_and_is_shown_by_its_field(
    app: Any, as_role: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_save = directory.save_entry

    def save_then_break(*args: Any, **kwargs: Any) -> DirectoryEntry:
        real_save(*args, **kwargs)
        db.session.flush()
        raise RuleBroken("skills", "A made-up rule about skills.")

    monkeypatch.setattr(directory, "save_entry", save_then_break)
    response = as_role("member").post("/people/me", data=ENTRY_FORM)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<a href="#skills">A made-up rule about skills.</a>' in page and 'id="skills-error"' in page
    assert _count(DirectoryEntry) == 0


def test_a_role_change_that_breaks_a_rule_keeps_no_audit_entry(
    as_role: Any, users: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_change = accounts.change_role

    def change_then_break(user: User, new_role: Role, *, by: User) -> None:
        real_change(user, new_role, by=by)
        db.session.flush()
        raise accounts.AccountError("role", "This is the last admin. Make someone else an admin first.")

    monkeypatch.setattr(accounts, "change_role", change_then_break)
    member = users["member"]
    response = as_role("admin").post(f"/admin/users/{member.id}/role", data={"role": "staff"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "This is the last admin." in page and 'id="role-error"' in page
    assert db.session.get(User, member.id).role == Role.MEMBER
    assert _count(AuditEntry) == 0


def test_someone_else_saving_first_is_said_and_nothing_is_kept(
    as_role: Any, users: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def stale(user: User, **fields: object) -> None:
        user.name = "Half saved"
        raise StaleDataError("changed under us")

    monkeypatch.setattr(accounts, "update_profile", stale)
    response = as_role("member").post("/account/profile", data={"name": "New name", "preferred_contact": "email"})
    assert response.status_code == 422
    assert "Someone else changed this while you were working on it." in response.get_data(as_text=True)
    assert db.session.get(User, users["member"].id).name == users["member"].name


def test_booking_twice_is_flashed_on_the_gathering_page(app: Any, users: dict[str, User], as_role: Any) -> None:
    gathering = make_gathering(users["staff"])
    book(gathering, users["member"])
    member = as_role("member")
    response = member.post(f"/gatherings/{gathering.id}/rsvp", data={"access_needs": "Again"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/gatherings/{gathering.id}#your-booking")
    page = member.get(f"/gatherings/{gathering.id}").get_data(as_text=True)
    assert "You have already booked. Cancel first if you want to change your booking." in page
    assert _count(Rsvp) == 1


def test_cancelling_without_a_booking_is_flashed(app: Any, users: dict[str, User], as_role: Any) -> None:
    gathering = make_gathering(users["staff"])
    member = as_role("member")
    response = member.post(f"/gatherings/{gathering.id}/cancel", data={})
    assert response.status_code == 303
    page = member.get(f"/gatherings/{gathering.id}").get_data(as_text=True)
    assert "You have not booked this gathering." in page
    assert "Your booking is cancelled" not in page


def test_a_reply_to_a_closed_account_is_refused_by_the_message_field(
    app: Any, users: dict[str, User], as_role: Any
) -> None:
    writer = factories.user()
    list_person(users["member"])
    message = directory.send_message(writer, users["member"], "Hello")
    db.session.commit()
    accounts.deactivate(writer, by=users["admin"])
    db.session.commit()
    response = as_role("member").post(f"/people/messages/{message.id}/reply", data={"body": "Hi back"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "This person&#39;s account is closed, so they cannot get replies." in page and 'id="body-error"' in page
    assert _count(PeerMessage) == 1


def test_a_refusal_from_the_service_is_403_with_its_reason(
    app: Any, users: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    recipient = factories.user()
    list_person(recipient)

    def refuse(*args: Any, **kwargs: Any) -> PeerMessage:
        raise NotAllowed("that person does not accept messages")

    monkeypatch.setattr(directory, "send_message", refuse)
    response = client_for(app, users["member"]).post(f"/people/{recipient.id}/message", data={"body": "Hi"})
    assert response.status_code == 403
    assert "that person does not accept messages" in response.get_data(as_text=True)
    assert _count(PeerMessage) == 0


def test_htmx_posts_are_answered_with_hx_redirect(as_role: Any) -> None:
    member = as_role("member")
    response = member.post("/notifications/read", headers={"HX-Request": "true"})
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/notifications"
    page = member.get("/notifications").get_data(as_text=True)
    assert "Every notification is marked as read." in page


@pytest.mark.parametrize(
    "url",
    [
        "/people?page=0",
        "/people?page=-2",
        "/people/messages?page=-1",
        "/notifications?page=0",
        "/gatherings?page=-3",
        "/search?q=story&page=-1",
    ],
)
def test_page_numbers_below_one_show_the_first_page(as_role: Any, url: str) -> None:
    assert as_role("member").get(url).status_code == 200


@pytest.mark.parametrize("url", ["/admin/users?page=0", "/admin/audit?page=-4", "/admin/users?page=999"])
def test_admin_lists_never_404_on_a_page_number(as_role: Any, url: str) -> None:
    assert as_role("admin").get(url).status_code == 200
