"""Reading notifications and choosing which ones come by email."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.notifications.models import DIGEST, KINDS, Notification, NotificationSetting


def inbox_query(user: Any) -> sa.Select[Notification]:
    return sa.select(Notification).where(Notification.recipient_id == user.id).order_by(Notification.id.desc())


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


def email_choices(user: Any) -> dict[str, bool]:
    """Every kind (and the digest) with whether email is on for this person."""
    stored = dict(
        db.session.execute(
            sa.select(NotificationSetting.kind, NotificationSetting.email).where(NotificationSetting.user_id == user.id)
        ).all()
    )
    chosen = {kind: stored.get(kind, True) for kind in KINDS}
    chosen[DIGEST] = stored.get(DIGEST, False)
    return chosen


def save_email_choices(user: Any, wanted: set[str]) -> None:
    stored = {
        s.kind: s
        for s in db.session.scalars(sa.select(NotificationSetting).where(NotificationSetting.user_id == user.id))
    }
    for kind in [*KINDS, DIGEST]:
        setting = stored.get(kind)
        if setting is None:
            setting = NotificationSetting(user_id=user.id, kind=kind)
            db.session.add(setting)
        setting.email = kind in wanted
