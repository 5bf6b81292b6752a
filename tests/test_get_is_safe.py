"""Opening a page never changes the database: notifications and messages are marked read by a
POST (a click), and looking at your storyteller record does not make one."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal.core.extensions import Model, db
from portal.directory import services as directory
from portal.directory.models import PeerMessage
from portal.notifications.models import Notification
from portal.notifications.service import notify
from portal.stories.models import Storyteller
from tests import factories
from tests.helpers import sign_in


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to compare before and after a request."""
    db.session.expire_all()
    rows = {}
    for table in Model.metadata.sorted_tables:
        rows[table.name] = sorted(map(tuple, db.session.execute(sa.select(table)).all()), key=repr)
    return rows


def listed(person: Any) -> None:
    directory.save_entry(
        person,
        listed=True,
        display_name=person.name,
        show_pronouns=False,
        show_bio=False,
        show_projects=False,
        accepts_messages=True,
        interests=[],
        skills_text="",
    )
    db.session.commit()


def signed_in_as(app: Flask, person: Any) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, person.email).status_code == 303
    return client


def test_opening_a_notification_marks_it_read_only_when_clicked(app: Flask) -> None:
    person = factories.user()
    notify(person, "validation", "Someone valued your post", "b", "/learning/1")
    db.session.commit()
    note = db.session.scalar(sa.select(Notification))
    assert note is not None
    client = signed_in_as(app, person)
    before = snapshot()
    for path in ("/notifications", f"/notifications/{note.id}", "/dashboard"):
        assert client.get(path).status_code == 200, path
    assert snapshot() == before
    assert note.read_at is None

    inbox = client.get("/notifications").get_data(as_text=True)
    assert f'action="/notifications/{note.id}" method="post"' in inbox
    response = client.post(f"/notifications/{note.id}")
    assert response.status_code == 303 and response.headers["Location"] == "/learning/1"
    db.session.refresh(note)
    assert note.read_at is not None


def test_opening_a_message_marks_it_read_only_when_clicked(app: Flask) -> None:
    sender, recipient = factories.user(), factories.user()
    listed(recipient)
    message = directory.send_message(sender, recipient, "Would you like to meet?")
    db.session.commit()
    client = signed_in_as(app, recipient)
    before = snapshot()
    for path in ("/people/messages", f"/people/messages/{message.id}"):
        response = client.get(path)
        assert response.status_code == 200, path
    page = response.get_data(as_text=True)
    assert "Would you like to meet?" in page and "Mark as read" in page
    assert snapshot() == before

    response = client.post(f"/people/messages/{message.id}/read")
    assert response.status_code == 303 and response.headers["Location"] == f"/people/messages/{message.id}"
    db.session.refresh(message)
    assert message.read_at is not None
    shown = client.get(f"/people/messages/{message.id}").get_data(as_text=True)
    assert "Mark as read" not in shown


def test_only_the_recipient_marks_a_message_read(app: Flask) -> None:
    sender, recipient, stranger = factories.user(), factories.user(), factories.user()
    listed(recipient)
    message = directory.send_message(sender, recipient, "Hello")
    db.session.commit()
    assert signed_in_as(app, stranger).post(f"/people/messages/{message.id}/read").status_code in (403, 404)
    signed_in_as(app, sender).post(f"/people/messages/{message.id}/read")
    db.session.refresh(message)
    assert message.read_at is None


def test_replying_marks_the_message_read(app: Flask) -> None:
    sender, recipient = factories.user(), factories.user()
    listed(recipient)
    message = directory.send_message(sender, recipient, "Hello")
    db.session.commit()
    client = signed_in_as(app, recipient)
    assert client.post(f"/people/messages/{message.id}/reply", data={"body": "Hi back"}).status_code == 303
    db.session.refresh(message)
    assert message.read_at is not None
    assert db.session.scalar(sa.select(sa.func.count(PeerMessage.id))) == 2


def test_looking_at_your_storyteller_record_does_not_make_one(app: Flask) -> None:
    person = factories.user()
    client = signed_in_as(app, person)
    before = snapshot()
    response = client.get("/stories/me")
    assert response.status_code == 200 and "Start my storyteller record" in response.get_data(as_text=True)
    assert snapshot() == before

    made = client.post("/stories/me")
    teller = db.session.scalar(sa.select(Storyteller).where(Storyteller.user_id == person.id))
    assert teller is not None
    assert made.status_code == 303 and made.headers["Location"] == f"/stories/storytellers/{teller.id}/record"
    again = client.get("/stories/me")  # now it only finds it
    assert again.status_code == 303 and again.headers["Location"] == f"/stories/storytellers/{teller.id}/record"
    assert client.post("/stories/me").status_code == 303
    assert db.session.scalar(sa.select(sa.func.count(Storyteller.id))) == 1


def test_opening_an_email_link_does_not_spend_it(app: Flask, client: FlaskClient) -> None:
    from portal.accounts import verification

    person = factories.user(verified=False)
    token = verification.send_confirmation(person, base_url="http://portal.test", valid_hours=48)
    db.session.commit()
    before = snapshot()
    assert client.get(f"/account/verify/{token}").status_code == 200
    assert snapshot() == before
