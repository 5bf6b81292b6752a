"""How a member is told about a message: a notification, and an email if they chose one."""

from __future__ import annotations

from typing import Any

from portal.notifications.service import notify


def message_received(recipient: Any, *, sender_name: str, text: str, message_id: int) -> None:
    subject = f"{sender_name} sent you a message"
    body = (
        f"{sender_name} sent you a message through the Co-Production Portal:\n\n{text}\n\n"
        "To reply, open the message in the portal and use the reply box. Your email address is not shared "
        "with them, and theirs is not shared with you."
    )
    path = f"/people/messages/{message_id}"
    notify(recipient, "message", subject, body, path)
