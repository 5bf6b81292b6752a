"""The gatherings section of the weekly digest (``send-digest`` collects sections from providers)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.formatting import local_datetime
from portal.gatherings.models import Gathering


@dataclass(frozen=True)
class DigestItem:
    title: str
    url_path: str
    summary: str  # when and where, in a line
    starts_at: datetime


def upcoming_for_digest(since: datetime, limit: int) -> list[DigestItem]:
    """Gatherings added since ``since`` that have not yet started, soonest first.

    Gatherings are for signed-in members, and the digest goes only to members who opted in.
    """
    now = utcnow()
    rows = db.session.scalars(
        sa.select(Gathering)
        .where(Gathering.created_at >= since, Gathering.starts_at > now)
        .order_by(Gathering.starts_at, Gathering.id)
        .limit(limit)
    )
    return [
        DigestItem(
            title=g.title,
            url_path=f"/gatherings/{g.id}",
            starts_at=g.starts_at,
            summary=f"{local_datetime(g.starts_at)}, {g.place or 'online'}"
            + (" (lived-experience attendees are paid)" if g.paid else ""),
        )
        for g in rows
    ]


def digest_items(since: datetime) -> list[tuple[str, str]]:
    """The shape ``portal.digest`` asks providers for: (title, url path) pairs."""
    return [(f"{item.title}: {item.summary}", item.url_path) for item in upcoming_for_digest(since, 20)]
