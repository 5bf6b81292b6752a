"""The member directory (opt in, each person choosing what to show) and peer messages."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.core.db import UTCDateTime, utcnow
from portal.core.extensions import Model


class DirectoryEntry(Model):
    """One person's entry. Nobody is listed until they opt in (``listed``)."""

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

    user: Mapped[User] = relationship(lazy="raise_on_sql")
    interests: Mapped[list[DirectoryInterest]] = relationship(
        lazy="raise_on_sql", cascade="all, delete-orphan", order_by="DirectoryInterest.value"
    )
    skills: Mapped[list[DirectorySkill]] = relationship(
        lazy="raise_on_sql", cascade="all, delete-orphan", order_by="DirectorySkill.key"
    )


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
