"""What gatherings hold about a person (their bookings, with the access needs they gave) and how
"Erase me" erases it: a place at a gathering still to come is given up (and passed to whoever
waits for it, as a cancellation does); every booking's access needs are deleted. Bookings of
past gatherings stay, with the reference for a name, as the record of who attended and was paid."""

from __future__ import annotations

import sqlalchemy as sa

from portal.accounts.models import User
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.my_data import Row, StoredFile, register_eraser, register_export
from portal.gatherings import services
from portal.gatherings.models import Gathering, Rsvp, RsvpState


@register_export("bookings", "your bookings of gatherings, with the access needs you told the organisers", tabular=True)
def bookings(person: User) -> list[Row]:
    found = db.session.execute(
        sa.select(Rsvp, Gathering.title, Gathering.starts_at)
        .join(Gathering, Rsvp.gathering_id == Gathering.id)
        .where(Rsvp.user_id == person.id)
        .order_by(Gathering.starts_at, Rsvp.id)
    )
    return [
        {
            "gathering_id": rsvp.gathering_id,
            "gathering": title,
            "starts_at": starts_at,
            "state": rsvp.state,
            "access_needs": rsvp.access_needs,
            "paid_as_lived_experience": rsvp.lived_experience,
            "booked_at": rsvp.created_at,
            "attended_at": rsvp.attended_at,
            "claim_id": rsvp.claim_id,
        }
        for rsvp, title, starts_at in found
    ]


@register_eraser("gatherings", order=40)
def erase_bookings(person: User, reference: str) -> list[StoredFile]:
    now = utcnow()
    coming = db.session.scalars(
        sa.select(Gathering)
        .join(Rsvp, Rsvp.gathering_id == Gathering.id)
        .where(
            Rsvp.user_id == person.id,
            Rsvp.state != RsvpState.CANCELLED,
            Rsvp.attended_at.is_(None),
            Gathering.starts_at > now,
        )
    ).all()
    for gathering in coming:
        services.cancel(gathering, person, now=now)  # tells whoever it moves up from the waiting list
    db.session.execute(sa.update(Rsvp).where(Rsvp.user_id == person.id).values(access_needs=""))
    return []
