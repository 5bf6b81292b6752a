"""Private calendar links: "Erase me" deletes them (the export says only when each was made)."""

from __future__ import annotations

import sqlalchemy as sa

from portal.accounts.models import User
from portal.calendar.models import CalendarFeed
from portal.core.extensions import db
from portal.core.my_data import Row, StoredFile, register_eraser, register_export


@register_export("calendar_links", "the private calendar links you made, and when each was turned off")
def calendar_links(person: User) -> list[Row]:
    found = db.session.scalars(
        sa.select(CalendarFeed).where(CalendarFeed.user_id == person.id).order_by(CalendarFeed.id)
    )
    return [{"made_at": f.created_at, "turned_off_at": f.revoked_at} for f in found]


@register_eraser("calendar_links", order=70)
def erase_calendar_links(person: User, reference: str) -> list[StoredFile]:
    db.session.execute(sa.delete(CalendarFeed).where(CalendarFeed.user_id == person.id))
    return []
