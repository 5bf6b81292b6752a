"""Gathering pages through the client: organising, booking, who sees access needs, attendance,
the calendar file, and query counts on the lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from portal.accounts.models import User
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.gatherings.models import Gathering, Rsvp, RsvpState
from portal.notifications.models import Notification
from portal.remuneration.models import Claim
from tests import factories
from tests.factories import book, make_gathering, workshop_activity
from tests.helpers import client_for, queries_for

FORM = {
    "title": "Summer co-design day",
    "description": "Planning the next year together.",
    "starts_at": "2030-07-01T10:30",
    "ends_at": "2030-07-01T15:00",
    "place": "Town hall",
    "online_link": "",
    "accessibility": "Step-free.",
    "capacity": "12",
    "activity_type_id": "",
    "units": "",
    "project_id": "",
}


def test_a_pilot_lead_organises_a_paid_gathering_in_uk_time(app: Any, users: dict[str, User]) -> None:
    lead = factories.user()
    project = factories.project(lead=lead)
    activity = workshop_activity()
    client = client_for(app, lead)
    assert client.get("/gatherings/new").status_code == 200
    response = client.post(
        "/gatherings/new",
        data={**FORM, "paid": "y", "activity_type_id": str(activity.id), "units": "1.5", "project_id": str(project.id)},
    )
    assert response.status_code == 303
    gathering = db.session.scalar(sa.select(Gathering))
    assert gathering.starts_at == datetime(2030, 7, 1, 9, 30, tzinfo=UTC)  # 10:30 BST
    assert gathering.paid and str(gathering.units) == "1.50" and gathering.project_id == project.id
    assert response.headers["Location"].endswith(f"/gatherings/{gathering.id}")
    page = client.get(f"/gatherings/{gathering.id}").get_data(as_text=True)
    assert "1.5 half days" in page and "Change the gathering" in page


def test_bad_form_shows_messages_and_saves_nothing(as_role: Any) -> None:
    staff = as_role("staff")
    response = staff.post("/gatherings/new", data={**FORM, "ends_at": "2030-07-01T09:00", "capacity": "lots"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter how many people can come, as a whole number like 20." in page
    response = staff.post("/gatherings/new", data={**FORM, "ends_at": "2030-07-01T09:00"})
    assert response.status_code == 422 and "The end must be after the start." in response.get_data(as_text=True)
    response = staff.post("/gatherings/new", data={**FORM, "paid": "y"})
    assert "Choose the rate card activity attendees are paid for." in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Gathering.id))) == 0


def test_only_organisers_edit_and_members_cannot_organise(app: Any, users: dict[str, User], as_role: Any) -> None:
    lead, other_lead = factories.user(), factories.user()
    factories.project(lead=lead)
    factories.project(title="Another", lead=other_lead)
    gathering = make_gathering(lead)
    assert client_for(app, lead).get(f"/gatherings/{gathering.id}/edit").status_code == 200
    assert client_for(app, other_lead).get(f"/gatherings/{gathering.id}/edit").status_code == 403
    assert as_role("staff").get(f"/gatherings/{gathering.id}/edit").status_code == 200
    assert as_role("member").get(f"/gatherings/{gathering.id}/edit").status_code == 403
    assert as_role("member").get("/gatherings/new").status_code == 403
    assert client_for(app, other_lead).post(f"/gatherings/{gathering.id}/edit", data=FORM).status_code == 403


def test_member_books_and_is_notified_then_cancels(app: Any, users: dict[str, User], as_role: Any) -> None:
    gathering = make_gathering(users["staff"], title="Listening session", capacity=1)
    member = as_role("member")
    response = member.post(f"/gatherings/{gathering.id}/rsvp", data={"access_needs": "A quiet space."})
    assert response.status_code == 303
    page = member.get(f"/gatherings/{gathering.id}").get_data(as_text=True)
    assert "You have a place." in page and "Cancel my place" in page
    subjects = db.session.scalars(
        sa.select(Notification.subject).where(Notification.recipient_id == users["member"].id)
    ).all()
    assert subjects == ["Your place at Listening session"]

    waiting = factories.user()
    client_for(app, waiting).post(f"/gatherings/{gathering.id}/rsvp", data={})
    assert "number 1 on the waiting list" in client_for(app, waiting).get(f"/gatherings/{gathering.id}").get_data(
        as_text=True
    )
    assert member.post(f"/gatherings/{gathering.id}/cancel", data={}).status_code == 303
    db.session.expire_all()
    assert db.session.scalar(sa.select(Rsvp.state).where(Rsvp.user_id == waiting.id)) == RsvpState.GOING


def test_access_needs_are_seen_by_organisers_only(app: Any, users: dict[str, User], as_role: Any) -> None:
    lead = factories.user()
    factories.project(lead=lead)
    gathering = make_gathering(lead)
    secret = "I use a wheelchair and need step-free access."
    book(gathering, users["member"], access_needs=secret)
    other_attendee = factories.user()
    book(gathering, other_attendee)

    assert secret in client_for(app, lead).get(f"/gatherings/{gathering.id}/people").get_data(as_text=True)
    assert secret in as_role("staff").get(f"/gatherings/{gathering.id}/people").get_data(as_text=True)
    attendee = client_for(app, other_attendee)
    assert attendee.get(f"/gatherings/{gathering.id}/people").status_code == 403
    for client in (attendee, as_role("member")):
        assert secret not in client.get(f"/gatherings/{gathering.id}").get_data(as_text=True)
        assert secret not in client.get(f"/gatherings/{gathering.id}/calendar.ics").get_data(as_text=True)
        assert secret not in client.get("/gatherings").get_data(as_text=True)


def test_attendance_page_twice_gives_one_claim(app: Any, users: dict[str, User], as_role: Any) -> None:
    gathering = make_gathering(users["staff"], paid=True)
    rsvp = book(gathering, users["member"], lived_experience=True)
    gathering.starts_at = utcnow() - timedelta(hours=3)
    gathering.ends_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    staff = as_role("staff")
    for _ in range(2):
        response = staff.post(f"/gatherings/{gathering.id}/attendance", data={"attended": str(rsvp.id)})
        assert response.status_code == 303
    assert db.session.scalar(sa.select(sa.func.count(Claim.id))) == 1
    page = staff.get(f"/gatherings/{gathering.id}/people").get_data(as_text=True)
    assert "claim drafted" in page and "Attended" in page
    assert (
        as_role("member").post(f"/gatherings/{gathering.id}/attendance", data={"attended": str(rsvp.id)}).status_code
        == 403
    )


def test_calendar_file_download(app: Any, users: dict[str, User], as_role: Any) -> None:
    gathering = make_gathering(users["staff"], title="Evening meet-up")
    response = as_role("member").get(f"/gatherings/{gathering.id}/calendar.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert f'filename="gathering-{gathering.id}.ics"' in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith(b"BEGIN:VCALENDAR\r\n") and b"SUMMARY:Evening meet-up\r\n" in body
    assert f"UID:gathering-{gathering.id}@portal.test".encode() in body
    assert as_role("anonymous").get(f"/gatherings/{gathering.id}/calendar.ics").status_code == 303


def test_upcoming_and_past_lists(app: Any, users: dict[str, User], as_role: Any) -> None:
    make_gathering(users["staff"], title="Next week's workshop")
    make_gathering(users["staff"], title="Last month's workshop", starts_in=timedelta(days=-30))
    member = as_role("member")
    upcoming = member.get("/gatherings").get_data(as_text=True)
    past = member.get("/gatherings/past").get_data(as_text=True)
    assert "Next week&#39;s workshop" in upcoming and "Last month" not in upcoming
    assert "Last month&#39;s workshop" in past and "Next week" not in past


def test_gathering_lists_query_count_does_not_grow(app: Any, users: dict[str, User], as_role: Any) -> None:
    app.config["PAGE_SIZE"] = 100
    member = as_role("member")

    def add(count: int, starts_in: timedelta) -> None:
        for number in range(count):
            gathering = make_gathering(users["staff"], starts_in=starts_in + timedelta(hours=number))
            for person in (users["member"], factories.user()):  # straight in: past ones cannot be booked
                db.session.add(Rsvp(gathering_id=gathering.id, user_id=person.id, state=RsvpState.GOING))
            db.session.commit()

    add(5, timedelta(days=3))
    add(5, timedelta(days=-3))
    few = (queries_for(member, "/gatherings"), queries_for(member, "/gatherings/past"))
    add(45, timedelta(days=5))
    add(45, timedelta(days=-10))
    assert "50 places" not in member.get("/gatherings").get_data(as_text=True)
    assert (queries_for(member, "/gatherings"), queries_for(member, "/gatherings/past")) == few


def test_people_booked_query_count_does_not_grow(app: Any, users: dict[str, User], as_role: Any) -> None:
    app.config["PAGE_SIZE"] = 100
    gathering = make_gathering(users["staff"], capacity=200)
    staff = as_role("staff")
    for _ in range(5):
        book(gathering, factories.user(), access_needs="Large print.")
    few = queries_for(staff, f"/gatherings/{gathering.id}/people")
    for _ in range(45):
        book(gathering, factories.user(), access_needs="Large print.")
    assert staff.get(f"/gatherings/{gathering.id}/people").get_data(as_text=True).count("Large print.") == 50
    assert queries_for(staff, f"/gatherings/{gathering.id}/people") == few


def test_changing_the_time_tells_people_with_a_place(app: Any, users: dict[str, User], as_role: Any) -> None:
    gathering = make_gathering(users["staff"], title="Planning morning", capacity=1)
    book(gathering, users["member"])
    waiting = factories.user()
    book(gathering, waiting)
    staff = as_role("staff")
    form = {**FORM, "title": "Planning morning", "capacity": "1"}
    assert staff.post(f"/gatherings/{gathering.id}/edit", data=form).status_code == 303
    db.session.expire_all()
    changed = db.session.get(Gathering, gathering.id)
    assert changed.starts_at == datetime(2030, 7, 1, 9, 30, tzinfo=UTC) and changed.sequence == 1
    subjects = db.session.scalars(
        sa.select(Notification.subject)
        .where(Notification.recipient_id == users["member"].id)
        .order_by(Notification.id)  # the newest last (without an order PostgreSQL may return any)
    ).all()
    assert subjects[-1] == "Planning morning has changed"
    assert not db.session.scalars(
        sa.select(Notification.subject).where(
            Notification.recipient_id == waiting.id, Notification.subject.like("%has changed")
        )
    ).all()
    # One place more: the waiting list moves up, and a smaller number than are going is refused.
    assert staff.post(f"/gatherings/{gathering.id}/edit", data={**form, "capacity": "2"}).status_code == 303
    db.session.expire_all()
    assert db.session.scalar(sa.select(Rsvp.state).where(Rsvp.user_id == waiting.id)) == RsvpState.GOING
    response = staff.post(f"/gatherings/{gathering.id}/edit", data={**form, "capacity": "1"})
    assert response.status_code == 422 and "2 people already have a place" in response.get_data(as_text=True)
