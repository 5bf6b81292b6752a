"""The weekly digest: ``flask --app portal.app send-digest`` (a cross-domain page, by email).

The email is a list of sections, each from a domain: learning posts, stories and gatherings.
Email leaves the portal, so posts and stories in a digest are public ones only; the gatherings
domain (``digest_items(since)``) chooses its own, since every subscriber is a member.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from portal.accounts.models import User
from portal.core import outbox
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.search.models import Audience, SearchDocument
from portal.gatherings.digest import digest_items
from portal.learning.posts import public_posts_since
from portal.notifications.models import DIGEST, NotificationSetting


@dataclass(frozen=True)
class Section:
    heading: str
    items: list[tuple[str, str]]  # (title, url path)


def _posts(since: datetime) -> Section | None:
    return Section("New learning posts", [(p.title, f"/learning/{p.id}") for p in public_posts_since(since)])


def _stories(since: datetime) -> Section | None:
    # Stories are read from the search index: a story is there, with its audience, exactly
    # while it is published, and it leaves the moment it is withdrawn.
    found = db.session.scalars(
        sa.select(SearchDocument)
        .where(
            SearchDocument.kind == "story",
            SearchDocument.audience == Audience.PUBLIC,
            SearchDocument.updated_at >= since,
        )
        .order_by(SearchDocument.updated_at.desc())
        .limit(20)
    )
    return Section("New stories", [(d.title, d.url_path) for d in found])


def _gatherings(since: datetime) -> Section | None:
    return Section("Gatherings coming up", list(digest_items(since)))


PROVIDERS: list[Callable[[datetime], Section | None]] = [_posts, _stories, _gatherings]


def sections(since: datetime) -> list[Section]:
    return [s for s in (provider(since) for provider in PROVIDERS) if s is not None and s.items]


def compose(found: list[Section]) -> str:
    base = current_app.config["BASE_URL"].rstrip("/")
    lines = ["Here is what is new in the Co-Production Portal this week.", ""]
    for section in found:
        lines += [section.heading, "-" * len(section.heading)]
        lines += [f"* {title}\n  {base}{path}" for title, path in section.items]
        lines.append("")
    lines.append(
        f"You get this email because you asked for the weekly digest. To stop it, change your "
        f"notification settings: {base}/notifications/settings"
    )
    return "\n".join(lines)


def subscribers() -> list[User]:
    return list(
        db.session.scalars(
            sa.select(User)
            .join(NotificationSetting, NotificationSetting.user_id == User.id)
            .where(
                NotificationSetting.kind == DIGEST, NotificationSetting.email.is_(True), User.deactivated_at.is_(None)
            )
            .order_by(User.id)
        )
    )


def send_digest(*, now: datetime | None = None, days: int = 7) -> int:
    """Queue one digest email per subscriber; returns how many. Nothing new, nothing sent."""
    now = now or utcnow()
    found = sections(now - timedelta(days=days))
    if not found:
        return 0
    body = compose(found)
    people = subscribers()
    for person in people:
        outbox.enqueue("digest", person.email, "This week in the Co-Production Portal", body)
    return len(people)
