"""What the directory holds about a person (their entry, messages, blocks, reports they made) and
how "Erase me" erases it. Messages they sent and received are deleted: nobody can answer a
former member, and a message's words are its sender's. Safeguarding reports are kept for staff
(with the reference for a name), as the records of a decision about someone's safety."""

from __future__ import annotations

import sqlalchemy as sa

from portal.accounts.models import User
from portal.core.extensions import db
from portal.core.my_data import Row, StoredFile, register_eraser, register_export
from portal.directory.models import Block, DirectoryEntry, DirectoryInterest, DirectorySkill, MemberReport, PeerMessage


@register_export("directory", "your directory entry: the name you show, what you chose to show, interests and skills")
def directory(person: User) -> list[Row]:
    entry = db.session.get(DirectoryEntry, person.id)
    if entry is None:
        return []
    interests = db.session.scalars(sa.select(DirectoryInterest.value).where(DirectoryInterest.user_id == person.id))
    skills = db.session.scalars(sa.select(DirectorySkill.name).where(DirectorySkill.user_id == person.id))
    return [
        {
            "listed": entry.listed,
            "display_name": entry.display_name,
            "show_pronouns": entry.show_pronouns,
            "show_bio": entry.show_bio,
            "show_projects": entry.show_projects,
            "accepts_messages": entry.accepts_messages,
            "interests": sorted(interests),
            "skills": sorted(skills),
            "updated_at": entry.updated_at,
        }
    ]


@register_export(
    "messages",
    "messages between you and other members: your words in full; for messages you were sent, who (by id) and when",
)
def messages(person: User) -> list[Row]:
    found = db.session.scalars(
        sa.select(PeerMessage)
        .where(sa.or_(PeerMessage.sender_id == person.id, PeerMessage.recipient_id == person.id))
        .order_by(PeerMessage.id)
    )
    rows = []
    for m in found:
        sent = m.sender_id == person.id
        rows.append(
            {
                "id": m.id,
                "direction": "sent" if sent else "received",
                "other_member_id": m.recipient_id if sent else m.sender_id,
                "reply_to_message_id": m.reply_to_id,
                "body": m.body if sent else None,  # the sender's words are theirs
                "at": m.created_at,
                "read_at": m.read_at,
            }
        )
    return rows


@register_export("blocks", "members you blocked (by id), and when")
def blocks(person: User) -> list[Row]:
    found = db.session.scalars(sa.select(Block).where(Block.blocker_id == person.id).order_by(Block.created_at))
    return [{"blocked_member_id": b.blocked_id, "at": b.created_at} for b in found]


@register_export("member_reports", "reports you made to staff about a member or a message, and what was decided")
def member_reports(person: User) -> list[Row]:
    found = db.session.scalars(sa.select(MemberReport).where(MemberReport.reporter_id == person.id))
    return [
        {
            "id": r.id,
            "about_member_id": r.subject_id,
            "message_id": r.message_id,
            "reason": r.reason,
            "details": r.details,
            "state": r.state,
            "at": r.created_at,
            "decided_at": r.decided_at,
        }
        for r in found
    ]


@register_eraser("directory", order=30)
def erase_directory(person: User, reference: str) -> list[StoredFile]:
    db.session.execute(sa.delete(DirectoryInterest).where(DirectoryInterest.user_id == person.id))
    db.session.execute(sa.delete(DirectorySkill).where(DirectorySkill.user_id == person.id))
    entry = db.session.get(DirectoryEntry, person.id)
    if entry is not None:
        db.session.delete(entry)
    # Replies to these messages, and reports quoting them, lose the link (ON DELETE SET NULL).
    db.session.execute(
        sa.delete(PeerMessage).where(sa.or_(PeerMessage.sender_id == person.id, PeerMessage.recipient_id == person.id))
    )
    db.session.execute(sa.delete(Block).where(sa.or_(Block.blocker_id == person.id, Block.blocked_id == person.id)))
    db.session.execute(sa.update(MemberReport).where(MemberReport.reporter_id == person.id).values(reporter_id=None))
    return []
