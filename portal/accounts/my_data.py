"""What accounts hold about a person, for "Download my data" and "Erase me": the profile, the
devices signed in, emails sent to them (kind and time: the words are erased once sent) and the
audit entries about them or by them. The eraser here runs last: it turns the account into a
reference that nothing can sign in with."""

from __future__ import annotations

import re
import secrets

import sqlalchemy as sa

from portal.accounts.models import EmailVerification, PasswordResetToken, RecoveryCode, User, UserSession
from portal.core.audit import AuditEntry
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.my_data import Row, StoredFile, register_eraser, register_export
from portal.core.outbox import OutboxMessage

FORMER_MEMBER = "A former member"
ERASED_PASSWORD = "!erased"  # not an Argon2 hash: no password ever matches it


@register_export("profile", "your account and profile: name, email, role, contact preferences, access needs")
def profile(person: User) -> list[Row]:
    return [
        {
            "id": person.id,
            "name": person.name,
            "email": person.email,
            "role": person.role,
            "pronouns": person.pronouns,
            "bio": person.bio,
            "preferred_contact": person.preferred_contact,
            "phone": person.phone,
            "contact_notes": person.contact_notes,
            "access_needs": person.access_needs,
            "created_at": person.created_at,
            "last_sign_in_at": person.last_sign_in_at,
            "email_confirmed_at": person.email_verified_at,
            "two_factor_on_since": person.two_factor_enabled_at,
        }
    ]


@register_export("sessions", "the devices you signed in on: a summary of the browser, the address, when")
def devices(person: User) -> list[Row]:
    found = db.session.scalars(sa.select(UserSession).where(UserSession.user_id == person.id).order_by(UserSession.id))
    return [
        {
            "id": s.id,
            "device": s.user_agent,
            "ip_address": s.ip_address,
            "signed_in_at": s.created_at,
            "last_seen_at": s.last_seen_at,
            "signed_out_at": s.ended_at,
        }
        for s in found
    ]


@register_export("emails", "emails the portal wrote to you: the kind and when (the words are erased once sent)")
def emails(person: User) -> list[Row]:
    found = db.session.execute(
        sa.select(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.created_at, OutboxMessage.sent_at)
        .where(OutboxMessage.to_email == person.email)
        .order_by(OutboxMessage.id)
    )
    return [{"id": m.id, "kind": m.kind, "written_at": m.created_at, "sent_at": m.sent_at} for m in found]


@register_export(
    "audit",
    "audit log entries about you or by you: what was done, when, and by whom (by id; the details only for your own)",
    tabular=True,
)
def audit_entries(person: User) -> list[Row]:
    found = db.session.scalars(
        sa.select(AuditEntry)
        .where(
            sa.or_(
                AuditEntry.actor_id == person.id,
                sa.and_(AuditEntry.object_type == "User", AuditEntry.object_id == str(person.id)),
            )
        )
        .order_by(AuditEntry.id)
    )
    rows = []
    for entry in found:
        yours = entry.actor_id == person.id
        rows.append(
            {
                "id": entry.id,
                "at": entry.created_at,
                "action": entry.action,
                "object_type": entry.object_type,
                "object_id": entry.object_id,
                "by_you": yours,
                "actor_id": entry.actor_id,
                # Someone else's note (a reason staff wrote) may name other people: yours only.
                "before": entry.before if yours else None,
                "after": entry.after if yours else None,
                "note": entry.note if yours else "",
            }
        )
    return rows


def _unname_in_waiting_emails(name: str) -> None:
    """Emails still waiting to other people ("Sam replied to your comment") say "A former member"."""
    name = name.strip()
    if len(name) < 2:
        return
    pattern = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE)
    # The words are sealed, so the database cannot search them: the waiting messages (the few
    # the workers have not sent yet) are opened here, and one that named them is sealed again
    # under a new key (``reword``), so its old words open with nothing.
    waiting = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.sent_at.is_(None)))
    for message in waiting:
        subject, body = message.subject, message.body
        if pattern.search(subject) or pattern.search(body):
            message.reword(pattern.sub(FORMER_MEMBER, subject), pattern.sub(FORMER_MEMBER, body))


def new_reference() -> str:
    return f"Former member #{secrets.token_hex(3).upper()}"


@register_eraser("account", order=90)
def erase_account(person: User, reference: str) -> list[StoredFile]:
    """The account becomes the reference: no name, email, password, second factor or sessions."""
    email = person.email
    db.session.execute(sa.delete(OutboxMessage).where(OutboxMessage.to_email == email))
    _unname_in_waiting_emails(person.name)
    for model in (UserSession, PasswordResetToken, EmailVerification, RecoveryCode):
        db.session.execute(sa.delete(model).where(model.user_id == person.id))
    now = utcnow()
    person.name = reference
    person.email = f"erased-{person.id}-{secrets.token_hex(4)}"  # unique, and no address at all
    person.password_hash = ERASED_PASSWORD
    person.session_token = secrets.token_hex(16)
    person.totp_secret_encrypted = None
    person.totp_last_step = None
    person.two_factor_enabled_at = None
    person.email_verified_at = None
    person.pronouns = person.bio = person.phone = person.contact_notes = person.access_needs = ""
    person.suspension_note = ""
    person.deactivated_at = person.deactivated_at or now
    person.erased_at = now
    return []
