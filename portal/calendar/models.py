"""The private calendar links. Only a hash of each link's secret is kept, so a stolen database
does not give anyone's calendar away, and the link itself is shown once, when it is made."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.db import UTCDateTime, utcnow
from portal.core.extensions import Model


class CalendarFeed(Model):
    __tablename__ = "calendar_feeds"
    __table_args__ = (
        # At most one live link per person: making a new one revokes the old one first.
        sa.Index(
            "uq_calendar_feeds_live_user",
            "user_id",
            unique=True,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)  # sha256 hex of the secret
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def live(self) -> bool:
        return self.revoked_at is None
