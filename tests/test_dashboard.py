"""Each person's dashboard: what is waiting for them, and the work areas their role opens."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from tests import factories
from tests.factories import submitted
from tests.helpers import client_for, text_of


@pytest.fixture
def card(app: Flask, users: dict[str, Any]) -> dict[str, Any]:
    return factories.rate_card()


def test_a_member_sees_their_own_work_and_no_programme_work(app: Flask, users: dict[str, Any]) -> None:
    page = text_of(client_for(app, users["member"]).get("/dashboard"))
    assert "Your payments and claims" in page and "Your applications" in page
    assert "Claims to confirm" not in page  # they lead no project
    assert "Programme work" not in page and "Rate card" not in page


def test_a_lead_sees_how_many_claims_wait_for_their_confirmation(app: Flask, card: Any, users: dict[str, Any]) -> None:
    lead, member = factories.user(name="Lee Lead"), users["member"]
    project = factories.project(lead=lead, members=(member,))
    submitted(member, card["Meeting"], project=project)
    submitted(member, card["Meeting"], project=project)
    page = text_of(client_for(app, lead).get("/dashboard"))
    assert re.search(r"Claims to confirm for your project\s*:\s*2\b", page)


def test_programme_work_follows_the_role(app: Flask, users: dict[str, Any]) -> None:
    staff = text_of(client_for(app, users["staff"]).get("/dashboard"))
    assert "Claims to approve" in staff and "Finance: batches" not in staff and "Rate card" not in staff
    finance = text_of(client_for(app, users["finance"]).get("/dashboard"))
    assert "Finance: batches" in finance and "Rate card" not in finance
    admin = text_of(client_for(app, users["admin"]).get("/dashboard"))
    assert "Rate card" in admin and "People and roles" in admin


def test_the_navigation_shows_how_many_notifications_are_unread(app: Flask, users: dict[str, Any]) -> None:
    from portal.core.extensions import db
    from portal.notifications.service import notify

    client = client_for(app, users["member"])
    assert "Notifications (" not in text_of(client.get("/dashboard"))
    notify(users["member"], "comment", "A new comment", "Someone commented on your post.", "/learning")
    db.session.commit()
    assert "Notifications (1 unread)" in text_of(client.get("/dashboard"))
