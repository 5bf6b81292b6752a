"""How a member is told about a message. ``portal.notifications`` is imported when a message is
sent, not when this module loads; without it, the notice goes by email only."""

from __future__ import annotations

from typing import Any

from portal import outbox


def message_received(recipient: Any, *, sender_name: str, text: str, message_id: int) -> None:
    subject = f"{sender_name} sent you a message"
    body = (f"{sender_name} sent you a message through the Co-Production Portal:\n\n{text}\n\n"
            "To reply, open the message in the portal and use the reply box. Your email address is not shared "
            "with them, and theirs is not shared with you.")
    path = f"/people/messages/{message_id}"
    try:
        from portal.notifications.service import notify
    except ImportError:  # pragma: no cover - the notifications package ships with the portal
        outbox.enqueue("notification.message", recipient.email, subject, f"Hello {recipient.name},\n\n{body}\n")
        return
    notify(recipient, "message", subject, body, path)
