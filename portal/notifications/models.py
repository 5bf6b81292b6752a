"""In-app notifications and each person's choice, per kind, of where they come: nowhere, in the
portal, or in the portal and by email."""

from __future__ import annotations

import json
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
    "report_reminder": "Progress reports due and overdue for your projects",
    "review_reminder": "Reviews you have not sent before the panel's deadline",
    "claim_reminder": "Claims you have not sent, and claims waiting for you to confirm or approve",
    "payment_reminder": "Payment batches not yet marked paid",
    "gathering_reminder": "A gathering you booked is tomorrow",
    "invitation_reminder": "Invitations you have not answered yet",
    "team": "Teams you are on: invitations answered, people added or removed, your role changed",
    "phase_reminder": "A funding round closes soon and your application is still a draft",
}
FINANCE_KINDS = frozenset({"payment_reminder"})  # shown on the settings page to finance only
DIGEST = "digest"  # the digest email; off unless the person opts in
DAILY, WEEKLY = "daily", "weekly"
FREQUENCIES: dict[str, str] = {DAILY: "Every morning", WEEKLY: "Every Monday morning"}
MAX_ITEMS = 10  # the names a grouped notification keeps


class Notification(Model):
    """One thing a person is told, or several of the same kind grouped (``count``, ``items``).

    A grouped notification collects repeats ("3 claims approved") while it is unread; the first
    one read starts a new group."""

    __tablename__ = "notifications"
    __table_args__ = (
        sa.Index("ix_notifications_recipient_read", "recipient_id", "read_at", "id"),
        sa.Index("ix_notifications_recipient_created", "recipient_id", "created_at", "id"),
        sa.Index("ix_notifications_recipient_group", "recipient_id", "kind", "group_key", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(30))
    subject: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    url_path: Mapped[str] = mapped_column(sa.String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    group_key: Mapped[str] = mapped_column(sa.String(120), default="", server_default="")
    count: Mapped[int] = mapped_column(default=1, server_default="1")
    items: Mapped[str] = mapped_column(sa.Text, default="[]", server_default="[]")  # JSON list, newest last

    @property
    def item_names(self) -> list[str]:
        try:
            names = json.loads(self.items or "[]")
        except ValueError:
            return []
        return [str(name) for name in names] if isinstance(names, list) else []


class NotificationSetting(Model):
    """A person's choice for one kind; no row means the default (in the portal and by email;
    the digest off). ``enabled`` off means nothing at all; ``email`` off means the portal only.
    For the digest, ``email`` says whether it comes and ``frequency`` how often."""

    __tablename__ = "notification_settings"
    __table_args__ = (sa.UniqueConstraint("user_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(30))
    email: Mapped[bool] = mapped_column(default=True)
    enabled: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    frequency: Mapped[str] = mapped_column(sa.String(10), default=WEEKLY, server_default=WEEKLY)
