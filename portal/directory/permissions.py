"""Rules for the directory (people opt in) and messages between members (never an email address)."""

from __future__ import annotations

from typing import Any

from portal.core.permissions import is_staff, register, signed_in
from portal.directory import blocks, reports


def party(user: Any, message: Any) -> bool:
    return signed_in(user) and message is not None and user.id in (message.sender_id, message.recipient_id)


def unblocked(user: Any, person_id: int) -> bool:
    return person_id == user.id or not blocks.between(user.id, person_id)


def other_person(user: Any, person: Any) -> bool:
    return signed_in(user) and person is not None and person.id != user.id


register(
    {
        "directory.view": lambda user, obj: signed_in(user),
        "directory.entry": (
            lambda user, entry: (
                signed_in(user)
                and entry is not None
                and (entry.listed or entry.user_id == user.id)
                and unblocked(user, entry.user_id)
            ),
            "This person is not in the directory.",
        ),
        "directory.message": (
            lambda user, entry: (
                signed_in(user)
                and entry is not None
                and entry.listed
                and entry.accepts_messages
                and entry.user_id != user.id
                and unblocked(user, entry.user_id)
            ),
            "This person does not take messages through the directory.",
        ),
        "message.view": (party, "Only the sender and the recipient can read a message."),
        "message.reply": (
            lambda user, message: party(user, message) and message.recipient_id == user.id,
            "Only the recipient can reply to a message.",
        ),
        # safeguarding: blocks, reports, and the staff who act on them
        "member.block": (other_person, "You cannot block yourself."),
        "member.report": (
            lambda user, person: other_person(user, person) and reports.may_report(user.id, person.id),
            "You can report someone you can find in the directory or have messages with.",
        ),
        "message.report": (
            lambda user, message: signed_in(user) and message is not None and message.recipient_id == user.id,
            "You can report only messages sent to you.",
        ),
        "reports.review": (lambda user, obj: is_staff(user), "Reports about members are for programme staff."),
    }
)
