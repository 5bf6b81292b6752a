"""Account upkeep as a scheduled job: password reset links are kept only while they matter."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa

from portal.accounts.models import PasswordResetToken
from portal.core.extensions import db
from portal.core.schedule import job

KEEP = timedelta(days=1)  # a day past expiry, so "this link has expired" can still be told apart


@job("reset-links", "Remove expired password reset links", daily_at=time(3, 15))
def purge_reset_links(now: datetime) -> str:
    removed = db.session.execute(sa.delete(PasswordResetToken).where(PasswordResetToken.expires_at < now - KEEP))
    return f"Removed {getattr(removed, 'rowcount', 0)} expired reset links."
