"""The calendars the feeds publish, each built from a fixed number of queries.

A private feed holds one person's dates: gatherings they have a place on, progress reports due
on projects they are on the team of, and the panel deadlines of phases where they still have a
review to send. The public feed holds the gatherings their organisers chose to list publicly.
Both start a while back (so a calendar app does not drop what just happened) and are capped.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import icalendar
from flask import url_for

from portal.accounts.models import User
from portal.core.extensions import db
from portal.core.formatting import LONDON
from portal.gatherings.calendar import gathering_event, new_calendar, uid_host
from portal.gatherings.services import booked_query, public_query
from portal.grants.models import Phase, ProgressReport
from portal.grants.reports import team_reports_due_query
from portal.grants.reviews import review_deadlines_query

PRIVATE_WINDOW = timedelta(days=90)  # how far back a private feed starts
PUBLIC_WINDOW = timedelta(days=30)  # how far back the public feed starts
MAX_EVENTS = 500  # of each kind: more than any person or programme has in that time


def _link(base_url: str, endpoint: str, **values: Any) -> str:
    return base_url.rstrip("/") + url_for(endpoint, **values)


def _all_day(uid: str, day: date, *, summary: str, description: str, url: str, now: datetime) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", now)
    event.add("dtstart", day)
    event.add("dtend", day + timedelta(days=1))  # DTEND is exclusive: a one-day event
    event.add("transp", "TRANSPARENT")  # a deadline does not make the person busy all day
    event.add("summary", summary)
    event.add("description", description)
    event.add("url", url)
    return event


def report_event(report: ProgressReport, *, base_url: str, now: datetime) -> icalendar.Event:
    url = _link(base_url, "grants.project_report", project_id=report.project_id, report_id=report.id)
    kind = "final report" if report.is_final else "progress report"
    return _all_day(
        f"report-{report.id}@{uid_host(base_url)}",
        report.due_on,
        summary=f"Report due: {report.project.title}",
        description=f"Your team's {kind} for {report.project.title} is due. Write and send it here: {url}",
        url=url,
        now=now,
    )


def review_event(phase: Phase, *, base_url: str, now: datetime) -> icalendar.Event:
    assert phase.reviews_close_on is not None  # the query asks for phases with a deadline
    url = _link(base_url, "grants.my_reviews")
    return _all_day(
        f"reviews-phase-{phase.id}@{uid_host(base_url)}",
        phase.reviews_close_on,
        summary=f"Reviews due: {phase.name}",
        description=f"The panel's last day for reviews of {phase.name}. See what you still have to review: {url}",
        url=url,
        now=now,
    )


def private_calendar(person: User, *, base_url: str, now: datetime) -> icalendar.Calendar:
    since = now - PRIVATE_WINDOW
    since_day = since.astimezone(LONDON).date()
    calendar = new_calendar("Co-Production Portal: your dates")
    for gathering in db.session.scalars(booked_query(person.id, since=since).limit(MAX_EVENTS)):
        calendar.add_component(gathering_event(gathering, base_url=base_url, now=now))
    for report in db.session.scalars(team_reports_due_query(person.id, since=since_day).limit(MAX_EVENTS)):
        calendar.add_component(report_event(report, base_url=base_url, now=now))
    for phase in db.session.scalars(review_deadlines_query(person.id, since=since_day).limit(MAX_EVENTS)):
        calendar.add_component(review_event(phase, base_url=base_url, now=now))
    return calendar


def public_calendar(*, base_url: str, now: datetime) -> icalendar.Calendar:
    calendar = new_calendar("Co-Production Portal: public gatherings")
    for gathering in db.session.scalars(public_query(since=now - PUBLIC_WINDOW).limit(MAX_EVENTS)):
        calendar.add_component(gathering_event(gathering, base_url=base_url, now=now, joining_link=False))
    return calendar
