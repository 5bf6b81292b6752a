"""Notifications: a person's own (what kind, where it pointed, when; not the words, which often
name someone else) and their settings. "Erase me" deletes both, and takes the person's name out
of what other people were told ("Sam replied to your comment" becomes "A former member replied
to your comment")."""

from __future__ import annotations

import re

import sqlalchemy as sa

from portal.accounts.models import User
from portal.core.extensions import db
from portal.core.my_data import Row, StoredFile, register_eraser, register_export
from portal.notifications.models import Notification, NotificationSetting

FORMER_MEMBER = "A former member"


@register_export("notifications", "what the portal told you in the portal: the kind, the page it pointed to, when")
def notifications(person: User) -> list[Row]:
    found = db.session.scalars(
        sa.select(Notification).where(Notification.recipient_id == person.id).order_by(Notification.id)
    )
    return [
        {"kind": n.kind, "page": n.url_path, "count": n.count, "at": n.created_at, "read_at": n.read_at} for n in found
    ]


@register_export("notification_settings", "your choices of which notifications and emails you get, and how often")
def notification_settings(person: User) -> list[Row]:
    found = db.session.scalars(sa.select(NotificationSetting).where(NotificationSetting.user_id == person.id))
    return [{"kind": s.kind, "enabled": s.enabled, "by_email": s.email, "frequency": s.frequency} for s in found]


@register_eraser("notifications", order=80)
def erase_notifications(person: User, reference: str) -> list[StoredFile]:
    db.session.execute(sa.delete(Notification).where(Notification.recipient_id == person.id))
    db.session.execute(sa.delete(NotificationSetting).where(NotificationSetting.user_id == person.id))
    name = person.name.strip()
    if len(name) < 2:
        return []
    pattern = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE)
    needle = name.lower()
    told = db.session.scalars(
        sa.select(Notification).where(
            sa.or_(
                sa.func.lower(Notification.subject).contains(needle, autoescape=True),
                sa.func.lower(Notification.body).contains(needle, autoescape=True),
                sa.func.lower(Notification.items).contains(needle, autoescape=True),
            )
        )
    )
    for notification in told:
        notification.subject = pattern.sub(FORMER_MEMBER, notification.subject)
        notification.body = pattern.sub(FORMER_MEMBER, notification.body)
        notification.items = pattern.sub(FORMER_MEMBER, notification.items)
    return []
