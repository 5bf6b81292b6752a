"""Pilot project teams: a project and who is on its team (lead or member).

Projects are created by the grants domain (an award) and used by every domain that works with a
pilot (claims against its budget, stories and posts about it, gatherings it organises). The
tables come from the foundation migration; grants adds its own columns by name.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.core.db import UTCDateTime, str_enum, utcnow
from portal.core.edits import Edited
from portal.core.extensions import Model


class TeamRole(enum.StrEnum):
    LEAD = "lead"
    MEMBER = "member"


class ProjectState(enum.StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


class ReportingSchedule(enum.StrEnum):
    MONTHLY = "monthly"
    MIDPOINT_FINAL = "midpoint_final"
    CUSTOM = "custom"


class Project(Edited, Model):
    __tablename__ = "projects"
    __table_args__ = (sa.Index("ix_projects_title_id", "title", "id"),)  # lists in title order, by keyset

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    award_pence: Mapped[int | None]  # set by the award that created the project
    phase_id: Mapped[int | None] = mapped_column(sa.ForeignKey("phases.id"), index=True)
    application_id: Mapped[int | None] = mapped_column(sa.ForeignKey("applications.id"), unique=True)
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]
    state: Mapped[ProjectState] = mapped_column(str_enum(ProjectState, "project_state"), default=ProjectState.ACTIVE)
    reporting_schedule: Mapped[ReportingSchedule | None] = mapped_column(
        str_enum(ReportingSchedule, "reporting_schedule")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    team: Mapped[list[TeamMembership]] = relationship(
        back_populates="project", lazy="raise_on_sql", cascade="all, delete-orphan"
    )
    phase: Mapped[Any] = relationship("Phase", lazy="raise_on_sql")  # grants' Phase, named, not imported


class TeamMembership(Model):
    __tablename__ = "team_memberships"
    __table_args__ = (sa.UniqueConstraint("project_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[TeamRole] = mapped_column(str_enum(TeamRole, "team_role"), default=TeamRole.MEMBER)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    project: Mapped[Project] = relationship(back_populates="team")
    user: Mapped[User] = relationship(back_populates="team_memberships")
