"""How long in-app notifications are kept (the retention schedule, ``core/retention.py``); a
notification can name a story or post, so its table is vacuumed after an erasure too."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from portal.core.compaction import holds_erased_words
from portal.core.extensions import db
from portal.core.retention import rowcount, rule
from portal.notifications.models import Notification

holds_erased_words("notifications")


@rule("notifications", "RETENTION_NOTIFICATION_DAYS")
def notifications(cutoff: datetime) -> int:
    return rowcount(db.session.execute(sa.delete(Notification).where(Notification.created_at < cutoff)))
