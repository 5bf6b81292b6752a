"""Reading notifications, and choosing where each kind comes (off, in the portal, by email too)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from portal.core.db import utcnow
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.core.permissions import is_finance
from portal.notifications.models import (
    DAILY,
    DIGEST,
    FINANCE_KINDS,
    FREQUENCIES,
    KINDS,
    WEEKLY,
    Notification,
    NotificationSetting,
)


def inbox_query(user: Any) -> sa.Select[Notification]:
    # A grouped notification moves to now when it gathers another, so newest first by time.
    return (
        sa.select(Notification)
        .where(Notification.recipient_id == user.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
    )


def unread_count(user: Any) -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count(Notification.id)).where(
                Notification.recipient_id == user.id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


def mark_read(notification: Notification) -> None:
    if notification.read_at is None:
        notification.read_at = utcnow()


def mark_all_read(user: Any) -> None:
    db.session.execute(
        sa.update(Notification)
        .where(Notification.recipient_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )


OFF, PORTAL, EMAIL = "off", "portal", "email"
LEVELS: dict[str, str] = {OFF: "Off", PORTAL: "In the portal", EMAIL: "In the portal and by email"}
DIGEST_CHOICES: dict[str, str] = {OFF: "Off", DAILY: "Daily, every morning", WEEKLY: "Weekly, on Monday mornings"}


def kinds_for(user: Any) -> dict[str, str]:
    """The kinds this person can get, with their labels (finance reminders for finance only)."""
    return {kind: label for kind, label in KINDS.items() if kind not in FINANCE_KINDS or is_finance(user)}


def choices(user: Any) -> dict[str, str]:
    """Every kind's level (off, portal, email), and the digest's (off, daily, weekly)."""
    stored = {
        s.kind: s
        for s in db.session.scalars(sa.select(NotificationSetting).where(NotificationSetting.user_id == user.id))
    }
    chosen: dict[str, str] = {}
    for kind in KINDS:
        setting = stored.get(kind)
        if setting is None:
            chosen[kind] = EMAIL
        else:
            chosen[kind] = OFF if not setting.enabled else EMAIL if setting.email else PORTAL
    digest = stored.get(DIGEST)
    if digest is None or not (digest.enabled and digest.email):
        chosen[DIGEST] = OFF
    else:
        chosen[DIGEST] = digest.frequency if digest.frequency in FREQUENCIES else WEEKLY
    return chosen


def save_choices(user: Any, levels: dict[str, str]) -> None:
    """Store the levels given (kind -> off | portal | email, and digest -> off | daily | weekly)."""
    stored = {
        s.kind: s
        for s in db.session.scalars(sa.select(NotificationSetting).where(NotificationSetting.user_id == user.id))
    }
    for kind, level in levels.items():
        allowed = DIGEST_CHOICES if kind == DIGEST else LEVELS
        if (kind != DIGEST and kind not in KINDS) or level not in allowed:
            raise RuleBroken(kind, "Choose one of the options.")
        setting = stored.get(kind)
        if setting is None:
            setting = NotificationSetting(user_id=user.id, kind=kind)
            db.session.add(setting)
        if kind == DIGEST:
            setting.enabled = setting.email = level != OFF
            if level != OFF:
                setting.frequency = level
        else:
            setting.enabled = level != OFF
            setting.email = level == EMAIL


def save_email_choices(user: Any, wanted: set[str]) -> None:
    """Email on for the kinds in ``wanted`` (the rest in the portal only); the digest weekly if
    it is in ``wanted``."""
    levels = {kind: EMAIL if kind in wanted else PORTAL for kind in KINDS}
    levels[DIGEST] = WEEKLY if DIGEST in wanted else OFF
    save_choices(user, levels)
