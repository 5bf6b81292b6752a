"""Pilot projects and their teams.

The foundation holds only what permissions need (a project and who is on its team); the grants
issue adds phases, applications, awards and the rest of a project's columns.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.db import UTCDateTime, str_enum, utcnow
from portal.extensions import db


class TeamRole(enum.StrEnum):
    LEAD = "lead"
    MEMBER = "member"


class Project(db.Model):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    award_pence: Mapped[int | None]  # set when the grants issue's award creates the project
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    team: Mapped[list[TeamMembership]] = relationship(
        back_populates="project", lazy="raise_on_sql", cascade="all, delete-orphan"
    )


class TeamMembership(db.Model):
    __tablename__ = "team_memberships"
    __table_args__ = (sa.UniqueConstraint("project_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[TeamRole] = mapped_column(str_enum(TeamRole, "team_role"), default=TeamRole.MEMBER)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    project: Mapped[Project] = relationship(back_populates="team")
    user: Mapped[User] = relationship(back_populates="team_memberships")
