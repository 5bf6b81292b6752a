"""The member directory (opt in, each person choosing what to show) and peer messages."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.core.db import UTCDateTime, str_enum, utcnow
from portal.core.edits import Edited
from portal.core.extensions import Model


class DirectoryEntry(Edited, Model):
    """One person's entry. Nobody is listed until they opt in (``listed``). ``Edited``: saving from a
    page opened before another save (another tab) never overwrites it."""

    __tablename__ = "directory_entries"
    __table_args__ = (sa.Index("ix_directory_entries_listed_name", "listed", "display_name", "user_id"),)

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    listed: Mapped[bool] = mapped_column(default=False)
    # The name others see: the person's full name, a first name or what they like to be called.
    display_name: Mapped[str] = mapped_column(sa.String(120))
    show_pronouns: Mapped[bool] = mapped_column(default=False)
    show_bio: Mapped[bool] = mapped_column(default=False)
    show_projects: Mapped[bool] = mapped_column(default=False)
    accepts_messages: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="raise_on_sql")
    interests: Mapped[list[DirectoryInterest]] = relationship(
        lazy="raise_on_sql", cascade="all, delete-orphan", order_by="DirectoryInterest.value"
    )
    skills: Mapped[list[DirectorySkill]] = relationship(
        lazy="raise_on_sql", cascade="all, delete-orphan", order_by="DirectorySkill.key"
    )

    # What the entry form holds for its many-valued fields: the interests' keys and the skills as
    # the person typed them. A form built from the entry reads these, never the rows themselves.
    @property
    def interest_values(self) -> list[str]:
        return sorted(interest.value for interest in self.interests)

    @property
    def skills_text(self) -> str:
        return ", ".join(skill.name for skill in sorted(self.skills, key=lambda skill: skill.key))


class DirectoryInterest(Model):
    """One of the 18 values of co-production (``portal.vocabulary.VALUES``) a person cares about."""

    __tablename__ = "directory_interests"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("directory_entries.user_id", ondelete="CASCADE"), primary_key=True
    )
    value: Mapped[str] = mapped_column(sa.String(40), primary_key=True, index=True)


class DirectorySkill(Model):
    """A skill in the person's own words; ``key`` is its lower-case form, for filtering."""

    __tablename__ = "directory_skills"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("directory_entries.user_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(sa.String(40), primary_key=True, index=True)
    name: Mapped[str] = mapped_column(sa.String(40))


class PeerMessage(Model):
    """A message from one member to another. Neither sees the other's email address: the
    recipient reads it (and replies) in the portal; the email only says it is there."""

    __tablename__ = "peer_messages"
    __table_args__ = (
        sa.Index("ix_peer_messages_sender_created", "sender_id", "created_at"),
        sa.Index("ix_peer_messages_recipient_id", "recipient_id", "id"),
        sa.CheckConstraint("sender_id <> recipient_id", name="not_to_self"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    recipient_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    reply_to_id: Mapped[int | None] = mapped_column(sa.ForeignKey("peer_messages.id", ondelete="SET NULL"), index=True)
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    sender: Mapped[User] = relationship(foreign_keys=[sender_id], lazy="raise_on_sql")
    recipient: Mapped[User] = relationship(foreign_keys=[recipient_id], lazy="raise_on_sql")


class Block(Model):
    """One member blocked another: neither can message the other or see the other's entry."""

    __tablename__ = "member_blocks"
    __table_args__ = (
        sa.Index("ix_member_blocks_blocker_created", "blocker_id", "created_at"),
        sa.Index("ix_member_blocks_blocked_id", "blocked_id", "blocker_id"),
        sa.CheckConstraint("blocker_id <> blocked_id", name="not_self"),
    )

    blocker_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    blocked_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    blocked: Mapped[User] = relationship(foreign_keys=[blocked_id], lazy="raise_on_sql")


class ReportReason(enum.StrEnum):
    """Why a member reports another member or a message, in the words a safeguarding lead uses."""

    SAFETY = "safety"
    HARASSMENT = "harassment"
    HATE = "hate"
    IMPERSONATION = "impersonation"
    SPAM = "spam"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "safety": "I am worried about their safety, or someone else's",
            "harassment": "Harassment, bullying or threats",
            "hate": "Hateful or discriminatory words",
            "impersonation": "Pretending to be someone they are not",
            "spam": "Spam, scams or advertising",
            "other": "Something else",
        }[self.value]


class ReportState(enum.StrEnum):
    OPEN = "open"
    DISMISSED = "dismissed"
    SUSPENDED = "suspended"  # staff suspended the reported person's account

    @property
    def label(self) -> str:
        return {"open": "Waiting for staff", "dismissed": "Dismissed", "suspended": "Account suspended"}[self.value]


class MemberReport(Model):
    """A member tells staff about another member, or about a message they were sent.

    A reported message's words are copied here (``message_text``), so staff read what was said
    even if the message is deleted later. Safety concerns come first in the queue (``priority``)."""

    __tablename__ = "member_reports"
    __table_args__ = (
        sa.Index("ix_member_reports_queue", "state", "priority", "created_at", "id"),
        sa.Index("ix_member_reports_subject_id", "subject_id", "id"),
        sa.Index("ix_member_reports_reporter_id", "reporter_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Kept when the reporter's account is erased: the concern still stands.
    reporter_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    subject_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(sa.ForeignKey("peer_messages.id", ondelete="SET NULL"), index=True)
    message_text: Mapped[str] = mapped_column(sa.Text, default="")
    message_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[ReportReason] = mapped_column(str_enum(ReportReason, "report_reason"))
    details: Mapped[str] = mapped_column(sa.String(1000), default="")
    priority: Mapped[int] = mapped_column(default=1)  # 0: a safety concern, looked at first
    state: Mapped[ReportState] = mapped_column(str_enum(ReportState, "report_state"), default=ReportState.OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    decision_note: Mapped[str] = mapped_column(sa.String(500), default="")

    reporter: Mapped[User | None] = relationship(foreign_keys=[reporter_id], lazy="raise_on_sql")
    subject: Mapped[User] = relationship(foreign_keys=[subject_id], lazy="raise_on_sql")
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id], lazy="raise_on_sql")
