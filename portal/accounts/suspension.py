"""Suspending an account for safeguarding, and lifting the suspension.

A suspended person cannot sign in (``User.is_active`` is false), and every session they had
ends at once: the session token is rotated, so the cookie each browser holds no longer matches.
Each step is audited, and the person is emailed the reason and how to appeal.
"""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa

from portal.accounts import sessions
from portal.accounts.models import Role, User
from portal.core import audit, outbox
from portal.core.db import utcnow
from portal.core.errors import NotAllowed, RuleBroken
from portal.core.permissions import is_admin, is_staff

NOTE_LENGTH = 500
MAY_NOT = "Programme staff can suspend members; only an admin can suspend staff, and nobody their own account."
SIGN_IN_REFUSED = (
    "This account is suspended. We emailed you the reason and how to appeal. "
    "If you cannot find that email, contact the programme team."
)


def may_suspend(user: Any, person: Any) -> bool:
    """Staff may suspend (or lift a suspension of) members; admins anyone; nobody themselves."""
    return (
        is_staff(user)
        and person is not None
        and person.id != user.id
        and (person.role == Role.MEMBER or is_admin(user))
    )


APPEAL = (
    "How to appeal: reply to this email within 28 days and say why you think the decision is wrong, "
    "or ask someone you trust to write for you. A member of the programme team who did not make "
    "this decision will look at your appeal and tell you what they decide."
)


def suspend(person: User, *, by: User, reason: str) -> None:
    if not may_suspend(by, person):
        raise NotAllowed(MAY_NOT)
    note = " ".join((reason or "").split())
    if not note:
        raise RuleBroken("reason", "Say why the account is suspended: the person is told this reason.")
    if len(note) > NOTE_LENGTH:
        raise RuleBroken("reason", f"Keep the reason to {NOTE_LENGTH} characters or fewer.")
    if person.suspended_at is not None:
        raise RuleBroken("reason", f"{person.name}'s account is already suspended.")
    person.suspended_at = utcnow()
    person.suspension_note = note
    person.session_token = secrets.token_hex(16)  # ends every session the person has
    sessions.end_all(person)  # and closes their devices' records, so "Your sessions" agrees
    audit.record("user.suspended", person, actor=by, before={"suspended": False}, after={"suspended": True}, note=note)
    outbox.enqueue(
        "account_suspended",
        person.email,
        "Your Co-Production Portal account is suspended",
        f"Hello {person.name},\n\n"
        "We have suspended your Co-Production Portal account, so you cannot sign in for now.\n\n"
        f"Why: {note}\n\n"
        "Nothing you made has been deleted.\n\n"
        f"{APPEAL}\n",
    )


def lift(person: User, *, by: User, note: str = "") -> None:
    if not may_suspend(by, person):
        raise NotAllowed(MAY_NOT)
    note = " ".join((note or "").split())
    if len(note) > NOTE_LENGTH:
        raise RuleBroken("note", f"Keep the note to {NOTE_LENGTH} characters or fewer.")
    if person.suspended_at is None:
        raise RuleBroken("note", f"{person.name}'s account is not suspended.")
    before = {"suspended": True, "reason": person.suspension_note}
    person.suspended_at = None
    person.suspension_note = ""
    audit.record("user.suspension_lifted", person, actor=by, before=before, after={"suspended": False}, note=note)
    outbox.enqueue(
        "account_suspension_lifted",
        person.email,
        "Your Co-Production Portal account is open again",
        f"Hello {person.name},\n\nWe have lifted the suspension of your Co-Production Portal account. "
        "You can sign in again with your email address and password.\n" + (f"\n{note}\n" if note else ""),
    )


def suspended_query() -> sa.Select[User]:
    """Suspended accounts, most recently suspended first."""
    return sa.select(User).where(User.suspended_at.is_not(None)).order_by(User.suspended_at.desc(), User.id.desc())
