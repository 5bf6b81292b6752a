"""The member directory: opting in, choosing what shows, filters, query counts; and messages
between members that never reveal an email address."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from portal.accounts.models import User
from portal.core.audit import AuditEntry
from portal.core.db import utcnow
from portal.core.errors import NotAllowed, RuleBroken
from portal.core.extensions import db
from portal.core.outbox import OutboxMessage
from portal.directory import services
from portal.directory.models import DirectoryEntry, PeerMessage
from portal.notifications.models import Notification
from tests import factories
from tests.helpers import client_for, count_queries


def list_person(
    person: User,
    *,
    name: str | None = None,
    interests: tuple[str, ...] = ("equality",),
    skills: str = "Facilitation",
    messages: bool = True,
    **shown: bool,
) -> DirectoryEntry:
    entry = services.save_entry(
        person,
        listed=True,
        display_name=name or person.name,
        show_pronouns=shown.get("pronouns", False),
        show_bio=shown.get("bio", False),
        show_projects=shown.get("projects", False),
        accepts_messages=messages,
        interests=list(interests),
        skills_text=skills,
    )
    db.session.commit()
    return entry


ENTRY_FORM = {
    "listed": "y",
    "display_name": "Jo",
    "show_pronouns": "y",
    "interests": ["equality", "learning"],
    "skills": "Facilitation, peer support,  facilitation ",
}


def test_nobody_is_listed_until_they_opt_in(app: Any, users: dict[str, User], as_role: Any) -> None:
    member = as_role("member")
    staff = as_role("staff")
    assert "0 people found" in staff.get("/people").get_data(as_text=True)
    form = member.get("/people/me").get_data(as_text=True)
    assert users["member"].name in form  # the name to show starts as their own
    response = member.post("/people/me", data={**ENTRY_FORM, "listed": ""})
    assert response.status_code == 303
    assert "0 people found" in staff.get("/people").get_data(as_text=True)
    assert staff.get(f"/people/{users['member'].id}").status_code == 403  # saved, but not listed

    assert member.post("/people/me", data=ENTRY_FORM).status_code == 303
    page = staff.get("/people").get_data(as_text=True)
    assert "1 person found" in page and ">Jo<" in page
    entry = services.entry_for(users["member"].id)
    assert [s.name for s in entry.skills] == ["Facilitation", "peer support"]  # the repeat is dropped
    consent = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "directory.update")).all()
    assert [c.after["listed"] for c in consent] == [False, True]


def test_only_what_the_person_chose_is_shown(app: Any, users: dict[str, User], as_role: Any) -> None:
    person = factories.user(
        name="Alexandra Quinn",
        pronouns="she/her",
        bio="Loves community gardens.",
        access_needs="Private need.",
        phone="07700 900123",
    )
    project = factories.project(title="Garden pilot", members=(person,))
    list_person(person, name="Alex")
    staff = as_role("staff")
    for url in ("/people", f"/people/{person.id}"):
        page = staff.get(url).get_data(as_text=True)
        assert "Alex" in page
        for hidden in (
            "Alexandra Quinn",
            "she/her",
            "Loves community gardens",
            project.title,
            person.email,
            "Private need.",
            "07700 900123",
        ):
            assert hidden not in page, (url, hidden)
    list_person(person, name="Alex", pronouns=True, bio=True, projects=True)
    for url in ("/people", f"/people/{person.id}"):
        page = staff.get(url).get_data(as_text=True)
        for shown in ("she/her", "Loves community gardens", "Garden pilot"):
            assert shown in page, (url, shown)
        assert person.email not in page and "Private need." not in page


def test_filter_by_interest_and_skill(app: Any, users: dict[str, User], as_role: Any) -> None:
    list_person(factories.user(), name="Ana", interests=("equality", "learning"), skills="Facilitation, BSL")
    list_person(factories.user(), name="Ben", interests=("learning",), skills="Peer support")
    list_person(factories.user(), name="Cat", interests=("respect",), skills="100% effort, data_analysis")
    closed = factories.user()
    list_person(closed, name="Dee", interests=("learning",))
    closed.deactivated_at = utcnow()
    db.session.commit()
    member = as_role("member")

    def names(query: str) -> list[str]:
        page = member.get("/people?" + query).get_data(as_text=True)
        return [name for name in ("Ana", "Ben", "Cat", "Dee") if f">{name}<" in page]

    assert names("") == ["Ana", "Ben", "Cat"]  # closed accounts are never listed
    assert names("interest=learning") == ["Ana", "Ben"]
    assert names("skill=facilit") == ["Ana"]
    assert names("skill=PEER+SUPPORT") == ["Ben"]
    assert names("interest=learning&skill=peer") == ["Ben"]
    assert names("skill=%25") == []  # LIKE wildcards are matched literally
    assert names("skill=data_") == ["Cat"] and names("skill=data%25") == []
    assert names("interest=not-a-value") == ["Ana", "Ben", "Cat"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"display_name": "  "}, "Enter the name to show, like your first name."),
        ({"interests": ["made-up"]}, "Choose interests from the list."),
        ({"skills": "x" * 41}, "Keep each skill to 40 characters"),
        ({"skills": ", ".join(f"skill {n}" for n in range(13))}, "List up to 12 skills."),
    ],
)
def test_bad_entry_is_refused_with_a_message(
    app: Any, users: dict[str, User], as_role: Any, change: dict[str, Any], message: str
) -> None:
    response = as_role("member").post("/people/me", data={**ENTRY_FORM, **change})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert services.entry_for(users["member"].id) is None


def test_directory_query_count_does_not_grow(app: Any, users: dict[str, User], as_role: Any) -> None:
    app.config["PAGE_SIZE"] = 100
    member = as_role("member")

    def add(count: int) -> None:
        for _ in range(count):
            person = factories.user(pronouns="they/them", bio="Hello.")
            factories.project(members=(person,))
            list_person(
                person,
                interests=("equality", "learning", "respect"),
                skills="A, B, C",
                pronouns=True,
                bio=True,
                projects=True,
            )

    def queries() -> int:
        member.get("/people")
        with count_queries() as statements:
            assert member.get("/people").status_code == 200
        return len(statements)

    add(5)
    few = queries()
    add(45)
    assert "50 people found" in member.get("/people").get_data(as_text=True)
    assert queries() == few


# --- messages ---------------------------------------------------------------------------------


def test_message_reaches_the_recipient_without_either_email(app: Any, users: dict[str, User]) -> None:
    sender = factories.user(name="Sam Sender", email="sam.private@example.test")
    recipient = factories.user(name="Rae Recipient", email="rae.private@example.test")
    list_person(recipient, name="Rae")
    response = client_for(app, sender).post(
        f"/people/{recipient.id}/message", data={"body": "Hello Rae, shall we meet at the next workshop?"}
    )
    assert response.status_code == 303
    message = db.session.scalar(sa.select(PeerMessage))
    assert (message.sender_id, message.recipient_id) == (sender.id, recipient.id)

    notification = db.session.scalar(sa.select(Notification).where(Notification.recipient_id == recipient.id))
    assert notification.kind == "message" and notification.url_path == f"/people/messages/{message.id}"
    email = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.to_email == recipient.email))
    assert "shall we meet at the next workshop?" in email.body
    assert "reply" in email.body.lower() and f"/people/messages/{message.id}" in email.body
    assert sender.email not in email.body + email.subject
    assert (
        db.session.scalar(sa.select(sa.func.count(OutboxMessage.id)).where(OutboxMessage.to_email == sender.email)) == 0
    )

    # The recipient reads and replies in the portal; the sender is told, and never sees Rae's email.
    reader = client_for(app, recipient)
    page = reader.get(f"/people/messages/{message.id}").get_data(as_text=True)
    assert "shall we meet" in page and sender.email not in page
    assert reader.post(f"/people/messages/{message.id}/reply", data={"body": "Yes please!"}).status_code == 303
    reply = db.session.scalar(sa.select(PeerMessage).where(PeerMessage.reply_to_id == message.id))
    assert (reply.sender_id, reply.recipient_id) == (recipient.id, sender.id)
    reply_email = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.to_email == sender.email))
    assert "Rae sent you a message" == reply_email.subject and recipient.email not in reply_email.body
    inbox = client_for(app, sender).get("/people/messages").get_data(as_text=True)
    assert "Yes please!" in inbox and recipient.email not in inbox and "Rae" in inbox


def test_messages_only_to_people_who_allow_them(app: Any, users: dict[str, User], as_role: Any) -> None:
    quiet = factories.user()
    list_person(quiet, messages=False)
    unlisted = factories.user()
    services.save_entry(
        unlisted,
        listed=False,
        display_name="U",
        show_pronouns=False,
        show_bio=False,
        show_projects=False,
        accepts_messages=True,
        interests=[],
        skills_text="",
    )
    db.session.commit()
    member = as_role("member")
    assert "Send the message" not in member.get(f"/people/{quiet.id}").get_data(as_text=True)
    assert member.post(f"/people/{quiet.id}/message", data={"body": "Hi"}).status_code == 403
    assert member.post(f"/people/{unlisted.id}/message", data={"body": "Hi"}).status_code == 403
    assert member.post(f"/people/{users['staff'].id}/message", data={"body": "Hi"}).status_code == 404  # no entry
    assert db.session.scalar(sa.select(sa.func.count(PeerMessage.id))) == 0

    # Only the recipient replies, and only the two people in a conversation can read it.
    open_person = factories.user()
    list_person(open_person)
    message = services.send_message(users["member"], open_person, "Hi there")
    db.session.commit()
    outsider = as_role("staff")
    assert outsider.get(f"/people/messages/{message.id}").status_code == 403
    assert member.post(f"/people/messages/{message.id}/reply", data={"body": "me again"}).status_code == 403
    with pytest.raises(NotAllowed):
        services.send_message(users["member"], users["member"], "to myself")


def test_messages_are_rate_limited(app: Any, users: dict[str, User], as_role: Any) -> None:
    app.config["PEER_MESSAGES_PER_DAY"] = 3
    recipient = factories.user()
    list_person(recipient)
    old = services.send_message(users["member"], recipient, "from two days ago", now=utcnow() - timedelta(days=2))
    assert old.id
    for number in range(3):
        services.send_message(users["member"], recipient, f"message {number}")
    db.session.commit()
    response = as_role("member").post(f"/people/{recipient.id}/message", data={"body": "one too many"})
    assert response.status_code == 422
    assert "You have sent 3 messages in the last 24 hours" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(PeerMessage.id))) == 4
    with pytest.raises(RuleBroken):
        services.send_message(users["member"], recipient, "   ")


def test_empty_message_gets_a_message(app: Any, users: dict[str, User], as_role: Any) -> None:
    recipient = factories.user()
    list_person(recipient)
    response = as_role("member").post(f"/people/{recipient.id}/message", data={"body": "  "})
    assert response.status_code == 422 and "Write your message." in response.get_data(as_text=True)


def test_messages_list_query_count_does_not_grow(app: Any, users: dict[str, User], as_role: Any) -> None:
    app.config["PAGE_SIZE"] = 100
    app.config["PEER_MESSAGES_PER_DAY"] = 1000
    member = as_role("member")

    def add(count: int) -> None:
        for _ in range(count):
            person = factories.user()
            list_person(person)
            services.send_message(users["member"], person, "Hello")
            db.session.commit()

    def queries() -> int:
        member.get("/people/messages")
        with count_queries() as statements:
            assert member.get("/people/messages").status_code == 200
        return len(statements)

    add(5)
    few = queries()
    add(45)
    assert queries() == few
