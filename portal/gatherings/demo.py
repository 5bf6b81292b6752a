"""Gatherings demo data: a past paid workshop with attendance marked (so its claims are drafted),
an open meet-up (listed on the public calendar), and a small paid session that is full with a waiting list."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from portal.accounts.models import User
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.gatherings import services
from portal.gatherings.models import Gathering, Rsvp
from portal.remuneration.models import ActivityType
from portal.teams.models import Project

PAST_WORKSHOP = "Co-design workshop: the recovery café menu"
MEET_UP = "Network meet-up: what we learned this year"
SMALL_SESSION = "Peer review practice session"


def _at(days: int, hour: int) -> tuple[datetime, datetime]:
    start = (utcnow() + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return start, start + timedelta(hours=3)


def seed(people: dict[str, User], project_title: str) -> int:
    created = 0
    if db.session.scalar(sa.select(Gathering.id).where(Gathering.title == PAST_WORKSHOP)) is not None:
        return created
    staff, lead = people["staff@demo.test"], people["lead@demo.test"]
    member, reviewer = people["member@demo.test"], people["reviewer@demo.test"]
    activity = {a.name: a for a in db.session.scalars(sa.select(ActivityType))}
    project = db.session.scalar(sa.select(Project).where(Project.title == project_title))

    def make(by: User, title: str, days: int, **details: Any) -> Gathering:
        start, end = _at(max(days, 1), 10)  # the service only takes future starts; past ones move below
        gathering = services.create_gathering(
            services.GatheringDetails(title=title, starts_at=start, ends_at=end, **details), by=by
        )
        db.session.flush()
        return gathering

    past = make(
        lead,
        PAST_WORKSHOP,
        1,
        description=(
            "People who use the recovery cafés design next season's menu and prices with the café team.\n"
            "We bring ideas, taste and decide together."
        ),
        place="Riverside Community Centre, Room 2, 14 Mill Lane",
        capacity=12,
        paid=True,
        accessibility="Step-free entrance and accessible toilet. Hearing loop. Large print papers on request. "
        "A quiet room is next door. Breaks every hour.",
        activity_type_id=activity["Workshop"].id,
        units=Decimal("1"),
        project_id=project.id if project else None,
    )
    services.book(past, member, access_needs="Large print papers, and a break every hour.", lived_experience=True)
    services.book(past, reviewer, lived_experience=True)
    services.book(past, staff)
    past.starts_at, past.ends_at = _at(-21, 10)
    db.session.flush()
    services.mark_attendance(
        past, [r.id for r in db.session.scalars(sa.select(Rsvp).where(Rsvp.gathering_id == past.id))], by=lead
    )

    meet_up = make(
        staff,
        MEET_UP,
        10,
        description=(
            "Pilot teams and members share what worked, what did not, and what they would do differently. "
            "Short talks, then small-group conversations."
        ),
        place="The Guildhall, Main Hall",
        online_link="https://meet.example.org/network-meet-up",
        capacity=40,
        accessibility="Step-free. BSL interpreter and live captions online. Lunch provided: tell us your dietary needs.",
        public=True,  # in the public calendar feed
    )
    services.book(meet_up, member, access_needs="A seat near the front, please.")
    services.book(meet_up, lead)

    small = make(
        staff,
        SMALL_SESSION,
        14,
        description=(
            "Practise scoring a sample application with an experienced panel member. For new lived-experience reviewers."
        ),
        online_link="https://meet.example.org/review-practice",
        capacity=2,
        paid=True,
        accessibility="Online with live captions. Papers sent a week before in your format of choice.",
        activity_type_id=activity["Meeting"].id,
        units=Decimal("2"),
    )
    services.book(small, reviewer, lived_experience=True)
    services.book(small, lead)
    services.book(small, member, lived_experience=True)  # full: the waiting list
    return created + 3
