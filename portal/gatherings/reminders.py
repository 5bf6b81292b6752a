"""The day before a gathering, each person with a place is reminded: when, where or how to
join, the venue's access information, and the access arrangements they asked for."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa

from portal.accounts.models import User
from portal.core.extensions import db
from portal.core.formatting import LONDON, local_datetime
from portal.core.schedule import job
from portal.gatherings.models import Gathering, Rsvp, RsvpState
from portal.notifications.reminders import remind


def reminder_body(gathering: Gathering, rsvp: Rsvp) -> str:
    lines = [f"'{gathering.title}' is tomorrow, {local_datetime(gathering.starts_at)} (UK time)."]
    if gathering.place:
        lines.append(f"Where: {gathering.place}")
    if gathering.online_link:
        lines.append(f"How to join online: {gathering.online_link}")
    if gathering.accessibility:
        lines.append(f"Access information: {gathering.accessibility}")
    if rsvp.access_needs:
        lines.append(f"The access arrangements you asked for: {rsvp.access_needs}")
    lines.append("If you can no longer come, please cancel your place so that someone waiting can have it.")
    return "\n".join(lines)


@job("gathering-reminders", "Remind people of gatherings tomorrow", daily_at=time(9, 0))
def gathering_reminders(now: datetime) -> str:
    tomorrow = now.astimezone(LONDON).date() + timedelta(days=1)
    start = datetime.combine(tomorrow, time(0, 0), LONDON)
    end = start + timedelta(days=1)
    sent = 0
    for gathering, rsvp, person in db.session.execute(
        sa.select(Gathering, Rsvp, User)
        .join(Rsvp, Rsvp.gathering_id == Gathering.id)
        .join(User, User.id == Rsvp.user_id)
        .where(Gathering.starts_at >= start, Gathering.starts_at < end, Rsvp.state == RsvpState.GOING)
        .order_by(Gathering.starts_at, Rsvp.id)
    ):
        sent += remind(
            person,
            "gathering_reminder",
            key=f"gathering:{gathering.id}",
            occasion=f"day-before-{tomorrow.isoformat()}",
            subject=f"Tomorrow: '{gathering.title}'",
            body=reminder_body(gathering, rsvp),
            url_path=f"/gatherings/{gathering.id}",
        )
    return f"Sent {sent} gathering reminders."
