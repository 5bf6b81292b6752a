"""In-app notifications and each person's choice of which ones also come by email."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.db import UTCDateTime, utcnow
from portal.core.extensions import Model

# kind -> what the person sees on their settings page
KINDS: dict[str, str] = {
    "comment": "Someone comments on your post",
    "reply": "Someone replies to your comment",
    "validation": "Someone says your post or comment resonates",
    "moderation": "A moderation decision about your post or comment",
    "claim": "Changes to your payment claims",
    "application": "Changes to your funding applications",
    "gathering": "Gatherings you booked: places, changes and waiting list",
    "message": "A message from another member",
    "report_reminder": "r",
    "review_reminder": "r",
    "claim_reminder": "r",
    "payment_reminder": "r",
    "gathering_reminder": "r",
    "invitation_reminder": "r",
    "phase_reminder": "r",
}
DIGEST = "digest"  # the weekly digest email; off unless the person opts in


class Notification(Model):
    __tablename__ = "notifications"
    __table_args__ = (sa.Index("ix_notifications_recipient_read", "recipient_id", "read_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(30))
    subject: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    url_path: Mapped[str] = mapped_column(sa.String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NotificationSetting(Model):
    """A person's choice for one kind; no row means the default (email on, digest off)."""

    __tablename__ = "notification_settings"
    __table_args__ = (sa.UniqueConstraint("user_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(30))
    email: Mapped[bool] = mapped_column(default=True)
