"""Calendar feeds: the private per-person link (made, replaced, turned off), what each feed holds,
its headers, and a fixed number of queries however many events it has."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from typing import Any

import icalendar
import sqlalchemy as sa

from portal.accounts.models import User
from portal.calendar.models import CalendarFeed
from portal.core.audit import AuditEntry
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.gatherings import services as gathering_services
from portal.grants.models import (
    ApplicationState,
    Phase,
    ProgressReport,
    ReportState,
    Review,
    ReviewerAssignment,
    ReviewState,
)
from portal.teams.models import Project, ProjectState
from tests import factories
from tests.factories import book, make_gathering
from tests.helpers import client_for, count_queries, text_of

LINK = re.compile(r'id="calendar-link" name="calendar-link" value="([^"]+)"')


def make_link(client: Any) -> str:
    """Press "Make my calendar link"; the path of the feed it shows (once)."""
    response = client.post("/calendar/link", data={})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    url = html.unescape(LINK.search(response.get_data(as_text=True)).group(1))
    assert url.startswith("http://portal.test/calendar/") and url.endswith(".ics")
    return url.removeprefix("http://portal.test")


def parse(response: Any) -> icalendar.Calendar:
    assert response.status_code == 200
    return icalendar.Calendar.from_ical(response.get_data())


def events(calendar: icalendar.Calendar) -> dict[str, icalendar.Event]:
    return {str(event["summary"]): event for event in calendar.walk("VEVENT")}


def report_due(project: Project, due_on: date, *, state: ReportState = ReportState.DUE) -> ProgressReport:
    report = ProgressReport(project_id=project.id, due_on=due_on, state=state)
    db.session.add(report)
    db.session.commit()
    return report


def review_phase(reviewer: User, *, name: str, closes: date, submitted: bool = False) -> Phase:
    """A phase whose panel deadline is ``closes``, with one application assigned to ``reviewer``."""
    phase = factories.make_phase(name=name)
    phase.reviews_close_on = closes
    application = factories.make_application(phase, factories.user(), state=ApplicationState.UNDER_REVIEW)
    db.session.add(ReviewerAssignment(phase_id=phase.id, reviewer_id=reviewer.id, assigned_by_id=reviewer.id))
    if submitted:
        db.session.add(
            Review(application_id=application.id, reviewer_id=reviewer.id, state=ReviewState.SUBMITTED, comment="Yes")
        )
    db.session.commit()
    return phase


def member_dates(users: dict[str, User], *, count: int = 1) -> None:
    """For the member: ``count`` gatherings booked, reports due on their project, and review deadlines."""
    member = users["member"]
    project = factories.project(title="Recovery cafés", members=(member,))
    today = london_today()
    for number in range(count):
        book(make_gathering(users["staff"], title=f"Workshop {number}", online_link="https://meet.test/abc"), member)
        report_due(project, today + timedelta(days=10 + number))
        review_phase(member, name=f"Phase {number}", closes=today + timedelta(days=20 + number))


def test_private_feed_holds_the_persons_dates_and_nobody_elses(app: Any, users: dict[str, User]) -> None:
    member, other = users["member"], factories.user()
    today = london_today()
    booked = make_gathering(users["staff"], title="Co-design workshop", online_link="https://meet.test/abc")
    book(booked, member)
    book(make_gathering(users["staff"], title="Someone else's meet-up"), other)
    cancelled = make_gathering(users["staff"], title="Cancelled booking")
    book(cancelled, member)
    gathering_services.cancel(cancelled, member)
    db.session.commit()
    mine = factories.project(title="Recovery cafés", members=(member,))
    report = report_due(mine, today + timedelta(days=14))
    report_due(mine, today + timedelta(days=1), state=ReportState.SUBMITTED)  # sent: nothing to do
    report_due(factories.project(title="Another team's pilot", members=(other,)), today + timedelta(days=3))
    closed = factories.project(title="A finished pilot", members=(member,))
    closed.state = ProjectState.CLOSED
    report_due(closed, today + timedelta(days=5))
    phase = review_phase(member, name="Phase 3", closes=today + timedelta(days=21))
    review_phase(member, name="Phase 2", closes=today + timedelta(days=7), submitted=True)
    review_phase(other, name="Phase 4", closes=today + timedelta(days=7))

    url = make_link(client_for(app, member))
    calendar = parse(app.test_client().get(url))  # no sign-in: the link is the authority
    found = events(calendar)
    assert set(found) == {"Co-design workshop", "Report due: Recovery cafés", "Reviews due: Phase 3"}

    workshop = found["Co-design workshop"]
    assert str(workshop["uid"]) == f"gathering-{booked.id}@portal.test"
    # iCalendar times are to the second
    assert workshop.decoded("dtstart") == booked.starts_at.replace(microsecond=0)
    assert workshop.decoded("dtend") == booked.ends_at.replace(microsecond=0)
    assert workshop["dtstart"].dt.utcoffset() == timedelta(0)
    assert int(workshop["sequence"]) == booked.sequence
    assert "Join online: https://meet.test/abc" in str(workshop["description"])
    assert str(workshop["location"]) == booked.place
    assert str(workshop["url"]) == f"http://portal.test/gatherings/{booked.id}"

    due = found["Report due: Recovery cafés"]
    assert due.decoded("dtstart") == report.due_on and due.decoded("dtend") == report.due_on + timedelta(days=1)
    assert str(due["url"]) == f"http://portal.test/projects/{mine.id}/reports/{report.id}"
    assert str(due["uid"]) == f"report-{report.id}@portal.test"
    reviews = found["Reviews due: Phase 3"]
    assert reviews.decoded("dtstart") == phase.reviews_close_on
    assert str(reviews["url"]) == "http://portal.test/reviews"


def test_feed_starts_90_days_back(app: Any, users: dict[str, User]) -> None:
    member = users["member"]
    project = factories.project(members=(member,))
    report_due(project, london_today() - timedelta(days=30), state=ReportState.DRAFT)  # overdue: still shown
    report_due(project, london_today() - timedelta(days=120))
    old = make_gathering(users["staff"], title="Long ago")
    book(old, member)
    old.starts_at = utcnow() - timedelta(days=200)
    old.ends_at = old.starts_at + timedelta(hours=2)
    db.session.commit()
    calendar = parse(app.test_client().get(make_link(client_for(app, member))))
    assert [event.decoded("dtstart") for event in calendar.walk("VEVENT")] == [london_today() - timedelta(days=30)]


def test_feed_headers(app: Any, users: dict[str, User]) -> None:
    response = app.test_client().get(make_link(client_for(app, users["member"])))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["X-Robots-Tag"] == "noindex"
    public = app.test_client().get("/calendar/public.ics")
    assert public.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert public.headers["Cache-Control"] == "public, max-age=300"
    assert public.headers["X-Robots-Tag"] == "noindex"


def test_only_a_hash_of_the_link_is_kept(app: Any, users: dict[str, User]) -> None:
    client = client_for(app, users["member"])
    url = make_link(client)
    token = url.removeprefix("/calendar/").removesuffix(".ics")
    assert len(token) >= 43
    feed = db.session.scalars(sa.select(CalendarFeed)).one()
    assert feed.token_hash != token and len(feed.token_hash) == 64
    assert token not in str([(e.before, e.after, e.note) for e in db.session.scalars(sa.select(AuditEntry))])
    later = client.get("/calendar").get_data(as_text=True)
    assert token not in later and "You have a calendar link" in text_of(later)
    assert "Make a new link" in later and "Turn off my calendar link" in later


def test_a_new_link_revokes_the_old_one(app: Any, users: dict[str, User]) -> None:
    client = client_for(app, users["member"])
    old = make_link(client)
    new = make_link(client)
    assert old != new
    anyone = app.test_client()
    assert anyone.get(old).status_code == 404
    assert anyone.get(new).status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).where(CalendarFeed.revoked_at.is_(None))) == 1
    actions = list(db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["calendar_link.make", "calendar_link.revoke", "calendar_link.make"]


def test_turning_it_off_answers_404(app: Any, users: dict[str, User]) -> None:
    client = client_for(app, users["member"])
    url = make_link(client)
    response = client.post("/calendar/off", data={})
    assert response.status_code == 303
    assert app.test_client().get(url).status_code == 404
    assert "You do not have a calendar link yet" in client.get("/calendar").get_data(as_text=True)
    assert db.session.scalar(sa.select(AuditEntry.action).order_by(AuditEntry.id.desc())) == "calendar_link.revoke"
    again = client.post("/calendar/off", data={}, follow_redirects=True)  # nothing to turn off: said, not a 500
    assert again.status_code == 200 and "You have no calendar link to turn off." in again.get_data(as_text=True)


def test_unknown_links_and_deactivated_people_answer_404(app: Any, users: dict[str, User]) -> None:
    url = make_link(client_for(app, users["member"]))
    anyone = app.test_client()
    assert anyone.get("/calendar/not-a-real-link.ics").status_code == 404
    assert anyone.get("/calendar/" + "x" * 5000 + ".ics").status_code == 404
    assert anyone.get(url[:-6] + "A.ics").status_code == 404
    users["member"].deactivated_at = utcnow()
    db.session.commit()
    assert anyone.get(url).status_code == 404


def test_the_calendar_page_explains_and_offers_the_button(app: Any, as_role: Any) -> None:
    page = as_role("member").get("/calendar").get_data(as_text=True)
    assert "anyone who has the link can see these dates" in text_of(page).lower()
    assert "Make my calendar link" in page and 'href="/calendar/public.ics"' in page
    assert as_role("anonymous").get("/calendar").status_code in (302, 303)


def test_public_feed_holds_public_gatherings_only(app: Any, users: dict[str, User]) -> None:
    listed = make_gathering(users["staff"], title="Open day", public=True, online_link="https://meet.test/secret")
    make_gathering(users["staff"], title="Members' planning meeting")
    recent = make_gathering(users["staff"], title="Last week's open day", public=True, starts_in=timedelta(days=-7))
    make_gathering(users["staff"], title="Last year's open day", public=True, starts_in=timedelta(days=-365))
    calendar = parse(app.test_client().get("/calendar/public.ics"))
    found = events(calendar)
    assert set(found) == {"Open day", "Last week's open day"}
    assert str(found["Open day"]["uid"]) == f"gathering-{listed.id}@portal.test"
    assert recent.id and "meet.test/secret" not in calendar.to_ical().decode()
    assert "Members who sign in to the portal see the online link." in str(found["Open day"]["description"])


def test_feeds_make_the_same_queries_for_few_and_many_events(app: Any, users: dict[str, User]) -> None:
    member_dates(users, count=1)
    url = make_link(client_for(app, users["member"]))
    anyone = app.test_client()

    def queries(path: str) -> tuple[int, int]:
        anyone.get(path)
        with count_queries() as statements:
            response = anyone.get(path)
        return len(statements), len(parse(response).walk("VEVENT"))

    few, few_events = queries(url)
    public_few, _ = queries("/calendar/public.ics")
    member_dates(users, count=8)
    for _ in range(5):
        make_gathering(users["staff"], public=True)
    many, many_events = queries(url)
    assert few_events == 3 and many_events == 27
    assert many == few <= 4
    assert queries("/calendar/public.ics")[0] == public_few


def test_the_gathering_form_lists_it_publicly(app: Any, users: dict[str, User], as_role: Any) -> None:
    staff = as_role("staff")
    assert "Show it on the public calendar" in staff.get("/gatherings/new").get_data(as_text=True)
    gathering = make_gathering(users["staff"], title="Open day", public=True)
    form = staff.get(f"/gatherings/{gathering.id}/edit").get_data(as_text=True)
    assert re.search(r'<input[^>]*checked[^>]*id="public"|<input[^>]*id="public"[^>]*checked', form)
