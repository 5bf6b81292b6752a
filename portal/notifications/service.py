"""Tell a person something: an in-app notification, and an email unless they switched it off.

Other domains call ``notify``; it joins the caller's transaction, so nothing is shown or sent
unless the change that caused it commits.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app

from portal.core import outbox
from portal.core.extensions import db
from portal.notifications.models import DIGEST, KINDS, Notification, NotificationSetting


def email_wanted(user_id: int, kind: str) -> bool:
    setting = db.session.scalar(
        sa.select(NotificationSetting.email).where(
            NotificationSetting.user_id == user_id, NotificationSetting.kind == kind
        )
    )
    if setting is None:
        return kind != DIGEST
    return bool(setting)


def wanted(user_id: int, kind: str) -> tuple[bool, bool]:  # TEMPORARY until the notify branch lands
    return True, email_wanted(user_id, kind)


def notify(
    recipient: Any,
    kind: str,
    subject: str,
    body: str,
    url_path: str,
    *,
    email_kind: str | None = None,
    email_text: str | None = None,
) -> None:
    """Write the in-app notification and, unless switched off for this kind, queue an email.

    ``email_kind`` and ``email_text`` let a domain keep its own outbox kind and wording."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    if recipient is None or getattr(recipient, "deactivated_at", None) is not None:
        return
    db.session.add(
        Notification(recipient_id=recipient.id, kind=kind, subject=subject[:200], body=body, url_path=url_path[:300])
    )
    if email_wanted(recipient.id, kind):
        link = current_app.config["BASE_URL"].rstrip("/") + url_path if url_path else ""
        text = email_text or f"Hello {recipient.name},\n\n{body}\n"
        if link:
            text += f"\n{link}\n"
        text += "\nYou can choose which emails you get on your notification settings page.\n"
        outbox.enqueue(email_kind or f"notification.{kind}", recipient.email, subject[:200], text)
