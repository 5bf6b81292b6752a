"""How long sign-in records are kept (the retention schedule, ``core/retention.py``).

A signed-in device (``UserSession``) holds an IP address and a browser summary. Once it has
ended, or gone unused long enough to be signed out anyway, it is kept for the person's "your
devices" page for the retention period, then deleted. Reset and confirmation links have their
own daily jobs (``accounts/housekeeping.py``). An erased account's name leaves the files of
``users`` after an erasure too (``core/compaction.py``)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from portal.accounts.models import UserSession
from portal.core.compaction import holds_erased_words
from portal.core.extensions import db
from portal.core.retention import rowcount, rule

holds_erased_words("users")


@rule("sign-in sessions", "RETENTION_SESSION_DAYS")
def sessions(cutoff: datetime) -> int:
    old = sa.or_(UserSession.ended_at < cutoff, UserSession.last_seen_at < cutoff)
    return rowcount(db.session.execute(sa.delete(UserSession).where(old)))
