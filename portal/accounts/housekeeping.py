"""Account upkeep as scheduled jobs: password reset and email confirmation links are kept only
while they matter."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa

from portal.accounts.models import EmailVerification, PasswordResetToken
from portal.core.extensions import db
from portal.core.schedule import job

KEEP = timedelta(days=1)  # a day past expiry, so "this link has expired" can still be told apart


@job("reset-links", "Remove expired password reset links", daily_at=time(3, 15))
def purge_reset_links(now: datetime) -> str:
    removed = db.session.execute(sa.delete(PasswordResetToken).where(PasswordResetToken.expires_at < now - KEEP))
    return f"Removed {getattr(removed, 'rowcount', 0)} expired reset links."


@job("confirmation-links", "Remove expired email confirmation links", daily_at=time(3, 20))
def purge_confirmation_links(now: datetime) -> str:
    removed = db.session.execute(sa.delete(EmailVerification).where(EmailVerification.expires_at < now - KEEP))
    return f"Removed {getattr(removed, 'rowcount', 0)} expired email confirmation links."
