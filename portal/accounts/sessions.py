"""Signed-in devices: a server-side record for every sign-in, so signing out really ends it.

Flask's session is a signed cookie: on its own, "signing out" only asks the browser to forget
it, and a copy taken before still works. So every sign-in starts a ``UserSession`` row with a
random token (only its SHA-256 stored); Flask-Login keeps "id:session_token:device token" in the
session and in the remember cookie, and ``load`` accepts it only while that row is not ended
(and the person's ``session_token`` is unchanged). Ending the row (signing out, the sessions
page, a password change, closing the account) refuses every copy of both cookies at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

import sqlalchemy as sa

from portal.accounts.models import User, UserSession
from portal.core.db import utcnow
from portal.core.errors import RuleBroken
from portal.core.extensions import db

TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often, to keep writes low


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def describe_agent(user_agent: str) -> str:
    """A short, human summary of a User-Agent header ("Firefox on Android"), never the whole header."""
    browser = next((name for marker, name in _BROWSERS if marker in user_agent), "")
    system = next((name for marker, name in _SYSTEMS if marker in user_agent), "")
    if browser and system:
        return f"{browser} on {system}"
    summary = browser or system or re.sub(r"[^\w .;/()-]", "", user_agent)[:60].strip()
    return summary or "Unknown browser"


def start(user: User, *, user_agent: str, ip_address: str) -> UserSession:
    """A new signed-in device for ``user``; ``user.device_token`` holds its token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    record = UserSession(
        user_id=user.id,
        token_hash=_hash(token),
        created_at=now,
        last_seen_at=now,
        user_agent=describe_agent(user_agent)[:120],
        ip_address=ip_address[:45],
    )
    db.session.add(record)
    db.session.flush()
    user.device_token = token
    user.device = record
    return record


def load(session_id: str, *, idle_days: int) -> User | None:
    """The person whose "id:session_token:device token" this is, while that device is signed in."""
    user_id, _, rest = session_id.partition(":")
    session_token, _, device_token = rest.partition(":")
    if not (user_id.isascii() and user_id.isdigit()) or not session_token or not device_token:
        return None
    record = db.session.scalar(
        sa.select(UserSession).where(UserSession.token_hash == _hash(device_token), UserSession.ended_at.is_(None))
    )
    if record is None or record.user_id != int(user_id):
        return None
    user = db.session.get(User, record.user_id)
    if user is None or not user.is_active or user.session_token != session_token:
        return None
    now = utcnow()
    if record.last_seen_at < now - timedelta(days=idle_days):
        record.ended_at = now
        db.session.commit()
        return None
    if record.last_seen_at < now - TOUCH_EVERY:
        db.session.execute(sa.update(UserSession).where(UserSession.id == record.id).values(last_seen_at=now))
        db.session.commit()
    user.device_token = device_token
    user.device = record
    return user


def end(record: UserSession | None) -> None:
    if record is not None and record.ended_at is None:
        db.session.execute(
            sa.update(UserSession)
            .where(UserSession.id == record.id, UserSession.ended_at.is_(None))
            .values(ended_at=utcnow())
        )


def end_all(user: User, *, keep: UserSession | None = None) -> int:
    """End every device of ``user`` except ``keep``; how many were ended."""
    query = sa.update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    if keep is not None:
        query = query.where(UserSession.id != keep.id)
    return int(getattr(db.session.execute(query.values(ended_at=utcnow())), "rowcount", 0))


def end_one(user: User, session_id: int) -> UserSession:
    """End one of ``user``'s own devices (another person's is "not found", like a missing one)."""
    record = db.session.get(UserSession, session_id)
    if record is None or record.user_id != user.id or record.ended_at is not None:
        raise RuleBroken("session", "That device is already signed out.")
    end(record)
    return record


def signed_in_devices(user: User, *, idle_days: int) -> list[UserSession]:
    since = utcnow() - timedelta(days=idle_days)
    return list(
        db.session.scalars(
            sa.select(UserSession)
            .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None), UserSession.last_seen_at >= since)
            .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
        )
    )
