"""The member directory and messages between members.

Nobody is in the directory until they opt in, and each person chooses what it shows. Messages
go through the portal: the recipient is told by an in-app notification and email, and reads and
answers in the portal, so neither side ever sees the other's email address.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from portal.accounts.models import User
from portal.accounts.verification import require_verified
from portal.core import audit, edits, permissions
from portal.core.db import utcnow
from portal.core.errors import NotAllowed, RuleBroken
from portal.core.extensions import db
from portal.core.vocabulary import VALUES
from portal.directory import blocks, notices
from portal.directory.models import DirectoryEntry, DirectoryInterest, DirectorySkill, PeerMessage
from portal.teams.models import Project, TeamMembership

MAX_SKILLS = 12
MAX_SKILL_LENGTH = 40
MAX_MESSAGE_LENGTH = 3000

# What the comparison calls each part of an entry, when a save from a stale page is refused.
LABELS = {
    "listed": "Listed in the directory",
    "display_name": "Name to show",
    "show_pronouns": "Show my pronouns",
    "show_bio": "Show the bio from my profile",
    "show_projects": "Show my pilot projects",
    "accepts_messages": "Accept messages from other members",
    "interest_values": "Interests",
    "skills_text": "Skills",
}


# --- the directory ----------------------------------------------------------------------


def entry_for(user_id: int) -> DirectoryEntry | None:
    return db.session.scalar(
        sa.select(DirectoryEntry)
        .options(selectinload(DirectoryEntry.interests), selectinload(DirectoryEntry.skills))
        .where(DirectoryEntry.user_id == user_id)
    )


def parse_skills(text: str) -> list[tuple[str, str]]:
    """'Facilitation, peer support' -> [('facilitation', 'Facilitation'), ('peer support', 'peer support')]."""
    found: dict[str, str] = {}
    for piece in text.replace("\n", ",").split(","):
        name = " ".join(piece.split())
        if not name:
            continue
        if len(name) > MAX_SKILL_LENGTH:
            raise RuleBroken(
                "skills",
                f"Keep each skill to {MAX_SKILL_LENGTH} characters; "
                f'"{name[:20]}…" is longer. Separate skills with commas.',
            )
        found.setdefault(name.casefold(), name)
    if len(found) > MAX_SKILLS:
        raise RuleBroken("skills", f"List up to {MAX_SKILLS} skills.")
    return list(found.items())


def _display(name: str, value: object) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if name == "interest_values" and isinstance(value, list):
        return ", ".join(VALUES.get(str(key), str(key)) for key in value)
    return edits.shown(value)


def _set_interests(entry: DirectoryEntry, wanted: list[str]) -> bool:
    """Add and remove only the interests that differ; true when any did."""
    current = {interest.value: interest for interest in entry.interests}
    gone = [interest for value, interest in current.items() if value not in wanted]
    new = [value for value in wanted if value not in current]
    for interest in gone:
        entry.interests.remove(interest)
    entry.interests.extend(DirectoryInterest(value=value) for value in new)
    return bool(gone or new)


def _set_skills(entry: DirectoryEntry, wanted: list[tuple[str, str]]) -> bool:
    """Add, rename and remove only the skills that differ; true when any did."""
    current = {skill.key: skill for skill in entry.skills}
    names = dict(wanted)
    changed = False
    for key, skill in current.items():
        if key not in names:
            entry.skills.remove(skill)
            changed = True
        elif skill.name != names[key]:
            skill.name = names[key]
            changed = True
    for key, shown in wanted:
        if key not in current:
            entry.skills.append(DirectorySkill(key=key, name=shown))
            changed = True
    return changed


def save_entry(
    user: User,
    *,
    listed: bool,
    display_name: str,
    show_pronouns: bool,
    show_bio: bool,
    show_projects: bool,
    accepts_messages: bool,
    interests: list[str],
    skills_text: str,
    seen: int | None = None,
) -> DirectoryEntry:
    """Save the person's entry from a form opened at version ``seen`` (an entry saved since, in
    another tab, is not overwritten: ``EditConflict``). Only what differs is written: saving an
    unchanged entry leaves every row exactly as it was."""
    name = " ".join(display_name.split())
    if not name:
        raise RuleBroken("display_name", "Enter the name to show, like your first name.")
    if len(name) > 120:
        raise RuleBroken("display_name", "Keep the name to 120 characters.")
    unknown = [value for value in interests if value not in VALUES]
    if unknown:
        raise RuleBroken("interests", "Choose interests from the list.")
    skills = sorted(parse_skills(skills_text))
    wanted_interests = sorted(set(interests))
    choices: dict[str, object] = {
        "listed": bool(listed),
        "display_name": name,
        "show_pronouns": bool(show_pronouns),
        "show_bio": bool(show_bio),
        "show_projects": bool(show_projects),
        "accepts_messages": bool(accepts_messages),
    }
    entry = entry_for(user.id)
    before = None
    if entry is None:
        entry = DirectoryEntry(user_id=user.id, interests=[], skills=[])
        db.session.add(entry)
    else:
        before = {"listed": entry.listed, "accepts_messages": entry.accepts_messages}
        yours = {**choices, "interest_values": wanted_interests, "skills_text": ", ".join(s for _k, s in skills)}
        edits.check_fresh(entry, seen, yours, by=user, labels=LABELS, display=_display)
    changed = edits.edit(entry, choices, by=user, seen=None)
    related = _set_interests(entry, wanted_interests) | _set_skills(entry, skills)
    if related and not changed:
        edits.stamp(entry, by=user)  # only interests or skills changed: the entry's version moves on
    if before is not None and not (changed or related):
        return entry  # nothing differs: nothing written, nothing to record
    db.session.flush()
    # consent: being listed and being messageable are the person's choices, so they are recorded
    audit.record(
        "directory.update",
        user,
        actor=user,
        before=before,
        after={"listed": listed, "accepts_messages": accepts_messages, "show_projects": show_projects},
    )
    return entry


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def directory_query(*, interest: str = "", skill: str = "", viewer_id: int | None = None) -> sa.Select[DirectoryEntry]:
    """Listed entries of active accounts, by name, with interests and skills loaded alongside;
    for a ``viewer``, without anyone they blocked or who blocked them."""
    query = (
        sa.select(DirectoryEntry)
        .join(User, User.id == DirectoryEntry.user_id)
        .options(
            selectinload(DirectoryEntry.interests),
            selectinload(DirectoryEntry.skills),
            sa.orm.contains_eager(DirectoryEntry.user),
        )
        .where(DirectoryEntry.listed.is_(True), User.deactivated_at.is_(None), User.suspended_at.is_(None))
        .order_by(DirectoryEntry.display_name, DirectoryEntry.user_id)
    )
    if viewer_id is not None:
        query = query.where(blocks.hidden_from(viewer_id, DirectoryEntry.user_id))
    if interest:
        query = query.where(
            sa.exists().where(DirectoryInterest.user_id == DirectoryEntry.user_id, DirectoryInterest.value == interest)
        )
    skill_key = " ".join(skill.split()).casefold()
    if skill_key:
        query = query.where(
            sa.exists().where(
                DirectorySkill.user_id == DirectoryEntry.user_id,
                DirectorySkill.key.like(_like_prefix(skill_key), escape="\\"),
            )
        )
    return query


def shown_projects(entries: list[DirectoryEntry]) -> dict[int, list[Project]]:
    """The projects each entry shows (only where the person chose to), in one query."""
    ids = [entry.user_id for entry in entries if entry.show_projects]
    found: dict[int, list[Project]] = defaultdict(list)
    if ids:
        rows = db.session.execute(
            sa.select(TeamMembership.user_id, Project)
            .join(Project)
            .where(TeamMembership.user_id.in_(ids))
            .order_by(Project.title)
        )
        for user_id, project in rows:
            found[user_id].append(project)
    return found


# --- messages ---------------------------------------------------------------------------


def messages_per_day() -> int:
    return int(current_app.config["PEER_MESSAGES_PER_DAY"])


def names(user_ids: set[int]) -> dict[int, str]:
    """The name each person shows others: their directory name, or their account name."""
    if not user_ids:
        return {}
    rows = db.session.execute(
        sa.select(User.id, sa.func.coalesce(DirectoryEntry.display_name, User.name))
        .outerjoin(DirectoryEntry, DirectoryEntry.user_id == User.id)
        .where(User.id.in_(user_ids))
    )
    return dict(rows.all())


def send_message(
    sender: User, recipient: User, body: str, *, reply_to: PeerMessage | None = None, now: datetime | None = None
) -> PeerMessage:
    """Send a message to someone who accepts them (or reply to a message you received)."""
    if reply_to is not None:
        if not permissions.can(sender, "message.reply", reply_to) or reply_to.sender_id != recipient.id:
            raise NotAllowed("not the recipient of that message")
    elif not permissions.can(sender, "directory.message", entry_for(recipient.id)):
        raise NotAllowed("that person does not accept messages")
    require_verified(sender, field="body")
    if blocks.between(sender.id, recipient.id):
        raise RuleBroken("body", blocks.BLOCKED)
    text = body.strip()
    if not text:
        raise RuleBroken("body", "Write your message.")
    if len(text) > MAX_MESSAGE_LENGTH:
        raise RuleBroken("body", f"Keep your message to {MAX_MESSAGE_LENGTH:,} characters.")
    moment = now or utcnow()
    limit = messages_per_day()
    sent = db.session.scalar(
        sa.select(sa.func.count(PeerMessage.id)).where(
            PeerMessage.sender_id == sender.id, PeerMessage.created_at > moment - timedelta(days=1)
        )
    )
    if (sent or 0) >= limit:
        raise RuleBroken(
            "body",
            f"You have sent {limit} messages in the last 24 hours, which is the most we allow "
            "to keep the network free of unwanted messages. Please try again tomorrow.",
        )
    message = PeerMessage(
        sender_id=sender.id,
        recipient_id=recipient.id,
        body=text,
        created_at=moment,
        reply_to_id=reply_to.id if reply_to else None,
    )
    db.session.add(message)
    db.session.flush()
    sender_name = names({sender.id})[sender.id]
    notices.message_received(recipient, sender_name=sender_name, text=text, message_id=message.id)
    return message


def messages_query(user_id: int) -> sa.Select[PeerMessage]:
    return (
        sa.select(PeerMessage)
        .where(sa.or_(PeerMessage.recipient_id == user_id, PeerMessage.sender_id == user_id))
        .order_by(PeerMessage.id.desc())
    )


def mark_read(message: PeerMessage, reader: User) -> None:
    if message.recipient_id == reader.id and message.read_at is None:
        message.read_at = utcnow()
