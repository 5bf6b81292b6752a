"""Making, replacing and turning off a person's private calendar link.

The link's secret is ``secrets.token_urlsafe(32)``; only its SHA-256 is stored, so the link can
be shown once, when it is made, and never again. A person has at most one live link: making a
new one revokes the old, and a revoked link answers "not found" for good.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from portal.accounts.models import User
from portal.calendar.models import CalendarFeed
from portal.core import audit
from portal.core.db import utcnow
from portal.core.errors import RuleBroken
from portal.core.extensions import db

MAX_TOKEN_LENGTH = 100  # token_urlsafe(32) is 43 characters; anything far longer is not ours
CHANGED_ELSEWHERE = (
    "Your calendar link was changed in another window at the same moment. Reload this page to see "
    "where it stands, then try again."
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def live_feed(user_id: int) -> CalendarFeed | None:
    return db.session.scalar(
        sa.select(CalendarFeed).where(CalendarFeed.user_id == user_id, CalendarFeed.revoked_at.is_(None))
    )


def _revoke(feed: CalendarFeed, *, by: User, now: datetime, note: str) -> None:
    feed.revoked_at = now
    audit.record("calendar_link.revoke", feed, actor=by, after={"revoked_at": now.isoformat()}, note=note)


def make_link(user: User, *, now: datetime | None = None) -> str:
    """A new private link for ``user`` (revoking the one they had); returns its secret token."""
    now = now or utcnow()
    old = live_feed(user.id)
    if old is not None:
        _revoke(old, by=user, now=now, note="Replaced by a new link.")
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed(user_id=user.id, token_hash=token_hash(token), created_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(feed)  # the unique index on live links stops a second one made at once
    except IntegrityError:
        raise RuleBroken("", CHANGED_ELSEWHERE) from None
    audit.record("calendar_link.make", feed, actor=user, after={"replaces": old.id if old else None})
    return token


def turn_off(user: User, *, now: datetime | None = None) -> None:
    feed = live_feed(user.id)
    if feed is None:
        raise RuleBroken("", "You have no calendar link to turn off.")
    _revoke(feed, by=user, now=now or utcnow(), note="Turned off by its owner.")


def person_for_token(token: str) -> User | None:
    """The active person whose live link this is, or None (unknown, revoked, or deactivated)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return db.session.scalar(
        sa.select(User)
        .join(CalendarFeed, CalendarFeed.user_id == User.id)
        .where(
            CalendarFeed.token_hash == token_hash(token),
            CalendarFeed.revoked_at.is_(None),
            User.deactivated_at.is_(None),
        )
    )
