"""Gatherings (workshops and meetings) and the places people book on them."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.core.db import UTCDateTime, str_enum, utcnow
from portal.core.edits import Edited
from portal.core.extensions import Model
from portal.remuneration.models import ActivityType
from portal.teams.models import Project


class Gathering(Edited, Model):
    """A workshop or meeting; its organisers change it (``Edited``: a stale form never overwrites)."""

    __tablename__ = "gatherings"
    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.CheckConstraint("capacity > 0", name="capacity_positive"),
        sa.CheckConstraint("NOT paid OR (activity_type_id IS NOT NULL AND units > 0)", name="paid_has_activity"),
        sa.Index("ix_gatherings_starts_at", "starts_at", "id"),
        sa.Index("ix_gatherings_ends_at", "ends_at"),  # upcoming = not yet ended
        sa.Index("ix_gatherings_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    place: Mapped[str] = mapped_column(sa.String(300), default="")
    online_link: Mapped[str] = mapped_column(sa.String(500), default="")
    accessibility: Mapped[str] = mapped_column(sa.Text, default="")
    capacity: Mapped[int]
    # Attendees who come as people with lived experience are paid for their time: marking
    # attendance drafts a claim for ``units`` of the rate card's activity.
    paid: Mapped[bool] = mapped_column(default=False)
    activity_type_id: Mapped[int | None] = mapped_column(sa.ForeignKey("activity_types.id"))
    units: Mapped[Decimal | None] = mapped_column(sa.Numeric(7, 2))
    project_id: Mapped[int | None] = mapped_column(sa.ForeignKey("projects.id", ondelete="SET NULL"), index=True)
    organiser_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sequence: Mapped[int] = mapped_column(default=0)  # the calendar file's SEQUENCE: bumped by each edit
    # Listed in the public calendar feed (title, time, place, description; never the online link).
    public: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    organiser: Mapped[User] = relationship(foreign_keys=[organiser_id], lazy="raise_on_sql")
    project: Mapped[Project | None] = relationship(lazy="raise_on_sql")
    activity_type: Mapped[ActivityType | None] = relationship(lazy="raise_on_sql")


class RsvpState(enum.StrEnum):
    GOING = "going"
    WAITING = "waiting"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return {"going": "You have a place", "waiting": "On the waiting list", "cancelled": "Cancelled"}[self.value]


class Rsvp(Model):
    """One person's booking. Its access needs are shown to the organisers only."""

    __tablename__ = "rsvps"
    __table_args__ = (
        sa.UniqueConstraint("gathering_id", "user_id"),
        sa.Index("ix_rsvps_gathering_state_queued", "gathering_id", "state", "queued_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    gathering_id: Mapped[int] = mapped_column(sa.ForeignKey("gatherings.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    state: Mapped[RsvpState] = mapped_column(str_enum(RsvpState, "rsvp_state"))
    access_needs: Mapped[str] = mapped_column(sa.Text, default="")
    lived_experience: Mapped[bool] = mapped_column(default=False)  # paid, on a paid gathering
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)  # waiting-list order
    attended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The claim marking attendance drafted: set once, so marking twice never drafts twice.
    claim_id: Mapped[int | None] = mapped_column(sa.ForeignKey("claims.id", ondelete="SET NULL"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(lazy="raise_on_sql")
    gathering: Mapped[Gathering] = relationship(lazy="raise_on_sql")
