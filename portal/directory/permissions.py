"""Rules for the directory (people opt in) and messages between members (never an email address)."""

from __future__ import annotations

from typing import Any

from portal.core.permissions import register, signed_in


def party(user: Any, message: Any) -> bool:
    return signed_in(user) and message is not None and user.id in (message.sender_id, message.recipient_id)


register(
    {
        "directory.view": lambda user, obj: signed_in(user),
        "directory.entry": (
            lambda user, entry: signed_in(user) and entry is not None and (entry.listed or entry.user_id == user.id),
            "This person is not in the directory.",
        ),
        "directory.message": (
            lambda user, entry: (
                signed_in(user)
                and entry is not None
                and entry.listed
                and entry.accepts_messages
                and entry.user_id != user.id
            ),
            "This person does not take messages through the directory.",
        ),
        "message.view": (party, "Only the sender and the recipient can read a message."),
        "message.reply": (
            lambda user, message: party(user, message) and message.recipient_id == user.id,
            "Only the recipient can reply to a message.",
        ),
    }
)
