"""Access needs are erased from bookings once the gathering is over (the retention schedule).

The booking itself stays (attendance drafts claims and counts in the figures); only what the
person told the organisers about their needs goes, the retention period after the gathering
ends."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from portal.core.extensions import db
from portal.core.retention import rowcount, rule
from portal.gatherings.models import Gathering, Rsvp


@rule("access needs after a gathering", "RETENTION_ACCESS_NEEDS_DAYS")
def access_needs(cutoff: datetime) -> int:
    ended = sa.select(Gathering.id).where(Gathering.ends_at < cutoff)
    erased = sa.update(Rsvp).where(Rsvp.access_needs != "", Rsvp.gathering_id.in_(ended)).values(access_needs="")
    return rowcount(db.session.execute(erased, execution_options={"synchronize_session": False}))
