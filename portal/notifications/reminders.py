"""Reminders: a notification sent once per occasion, and never again.

A reminder job asks ``remind(person, kind, key="report:12", occasion="due-in-7-days", ...)``
as often as it likes; the first call notifies the person (in the portal, and by email if they
want it) and records it, every later call does nothing. A person who switched the kind off
gets nothing, and nothing is recorded, so switching it back on applies from the next occasion.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from portal.core import outbox
from portal.core.db import UTCDateTime, utcnow
from portal.core.extensions import Model, db
from portal.notifications.models import Notification
from portal.notifications.service import notify, wanted


class SentReminder(Model):
    """One reminder, sent: about what (``subject_key``), to whom, for which occasion."""

    __tablename__ = "sent_reminders"
    __table_args__ = (sa.UniqueConstraint("kind", "subject_key", "recipient_key", "occasion"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(30))
    subject_key: Mapped[str] = mapped_column(sa.String(80))  # "report:12", "claim:40"
    recipient_key: Mapped[str] = mapped_column(sa.String(80))  # "user:5", or "invitation:3" for an address
    occasion: Mapped[str] = mapped_column(sa.String(40))  # "due-in-7-days", "overdue"
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def record_once(kind: str, subject_key: str, recipient_key: str, occasion: str) -> bool:
    """Record the reminder; false when it was already sent."""
    exists = db.session.scalar(
        sa.select(SentReminder.id).where(
            SentReminder.kind == kind,
            SentReminder.subject_key == subject_key,
            SentReminder.recipient_key == recipient_key,
            SentReminder.occasion == occasion,
        )
    )
    if exists is not None:
        return False
    try:
        with db.session.begin_nested():
            db.session.add(
                SentReminder(kind=kind, subject_key=subject_key, recipient_key=recipient_key, occasion=occasion)
            )
    except IntegrityError:
        return False
    return True


def already_sent(kind: str, subject_keys: Iterable[str], occasion: str) -> set[tuple[str, str]]:
    """(subject key, recipient key) pairs already reminded for this occasion, in one query."""
    keys = list(subject_keys)
    if not keys:
        return set()
    rows = db.session.execute(
        sa.select(SentReminder.subject_key, SentReminder.recipient_key).where(
            SentReminder.kind == kind, SentReminder.occasion == occasion, SentReminder.subject_key.in_(keys)
        )
    )
    return {(row[0], row[1]) for row in rows}


def remind(
    recipient: Any,
    kind: str,
    *,
    key: str,
    occasion: str,
    subject: str,
    body: str,
    url_path: str,
) -> bool:
    """Notify ``recipient`` once for this occasion; true when this call sent it."""
    if recipient is None or getattr(recipient, "deactivated_at", None) is not None:
        return False
    in_portal, _email = wanted(recipient.id, kind)
    if not in_portal:
        return False
    if not record_once(kind, key, f"user:{recipient.id}", occasion):
        return False
    notify(recipient, kind, subject, body, url_path, email_kind=f"reminder.{kind}")
    return True


def remind_address(
    email: str, kind: str, *, key: str, recipient_key: str, occasion: str, subject: str, body: str
) -> bool:
    """Email someone who has no account yet (an invited address), once for this occasion."""
    if not record_once(kind, key, recipient_key, occasion):
        return False
    outbox.enqueue(f"reminder.{kind}", email, subject[:200], body)
    return True


def unread_reminders(user_id: int, *, limit: int) -> list[Notification]:
    """The person's newest unread reminders, for the dashboard."""
    return list(
        db.session.scalars(
            sa.select(Notification)
            .where(
                Notification.recipient_id == user_id,
                Notification.read_at.is_(None),
                Notification.kind.like("%\\_reminder", escape="\\"),
            )
            .order_by(Notification.id.desc())
            .limit(limit)
        )
    )
