"""Grant phases, applications, panel reviews, decisions, pilot projects and their reporting.

Money is integer pence; dates of the programme (windows, due dates) are plain dates in
Europe/London; moments (submitted, decided) are UTC datetimes.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from typing import ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.core import vocabulary
from portal.core.db import UTCDateTime, str_enum, utcnow
from portal.core.edits import Edited
from portal.core.extensions import Model
from portal.core.formatting import money
from portal.teams.models import Project, TeamRole

# --- phases ---------------------------------------------------------------------------------


class PhaseState(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    ASSESSING = "assessing"
    ACTIVE = "active"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return {
            "draft": "Draft",
            "open": "Open for applications",
            "assessing": "Panel assessing",
            "active": "Pilots running",
            "closed": "Closed",
        }[self.value]


PHASE_TRANSITIONS: dict[PhaseState, set[PhaseState]] = {
    PhaseState.DRAFT: {PhaseState.OPEN},
    PhaseState.OPEN: {PhaseState.ASSESSING},
    PhaseState.ASSESSING: {PhaseState.ACTIVE},
    PhaseState.ACTIVE: {PhaseState.CLOSED},
    PhaseState.CLOSED: set(),
}


class Phase(Edited, Model):
    __tablename__ = "phases"
    __table_args__ = (
        sa.CheckConstraint("max_award_pence > 0", name="max_award_positive"),
        sa.CheckConstraint("pot_pence >= max_award_pence", name="pot_at_least_max_award"),
        sa.CheckConstraint("closes_on >= opens_on", name="window_in_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    eligibility: Mapped[str] = mapped_column(sa.Text, default="")
    max_award_pence: Mapped[int]
    delivery_months: Mapped[int]
    pot_pence: Mapped[int]
    target_awards: Mapped[int]
    opens_on: Mapped[date]
    closes_on: Mapped[date]
    # The round opens and closes at these times of day, UK time (Europe/London), on its dates.
    opens_time: Mapped[time] = mapped_column(sa.Time(), default=time(0, 0), server_default="00:00:00")
    closes_time: Mapped[time] = mapped_column(sa.Time(), default=time(23, 59), server_default="23:59:00")
    # The panel's deadline: reviews cannot be sent after this day (UK time); none means no deadline.
    reviews_close_on: Mapped[date | None]
    state: Mapped[PhaseState] = mapped_column(str_enum(PhaseState, "phase_state"), default=PhaseState.DRAFT, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    criteria: Mapped[list[Criterion]] = relationship(
        back_populates="phase", lazy="raise_on_sql", order_by="Criterion.position", cascade="all, delete-orphan"
    )


class Criterion(Model):
    """A scoring criterion; a review's weighted average uses ``weight``."""

    __tablename__ = "criteria"
    __table_args__ = (sa.CheckConstraint("weight BETWEEN 1 AND 100", name="weight_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phase_id: Mapped[int] = mapped_column(sa.ForeignKey("phases.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    weight: Mapped[int]
    position: Mapped[int] = mapped_column(default=0)

    phase: Mapped[Phase] = relationship(back_populates="criteria")


# --- applications ---------------------------------------------------------------------------


class ApplicationState(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    AWARDED = "awarded"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return {
            "draft": "Draft",
            "submitted": "Submitted",
            "under_review": "With the panel",
            "awarded": "Awarded",
            "declined": "Not funded",
            "withdrawn": "Withdrawn",
        }[self.value]


APPLICATION_TRANSITIONS: dict[ApplicationState, set[ApplicationState]] = {
    ApplicationState.DRAFT: {ApplicationState.SUBMITTED, ApplicationState.WITHDRAWN},
    ApplicationState.SUBMITTED: {
        ApplicationState.UNDER_REVIEW,
        ApplicationState.WITHDRAWN,
        ApplicationState.AWARDED,
        ApplicationState.DECLINED,
    },
    ApplicationState.UNDER_REVIEW: {ApplicationState.AWARDED, ApplicationState.DECLINED, ApplicationState.WITHDRAWN},
    ApplicationState.AWARDED: set(),
    ApplicationState.DECLINED: set(),
    ApplicationState.WITHDRAWN: set(),
}


class Application(Edited, Model):
    """An application; ``version`` (``Edited``) covers its words and its budget lines, which the
    team writes on one page and the panel reads as one budget against the phase's cap."""

    __tablename__ = "applications"
    __table_args__ = (sa.Index("ix_applications_phase_state", "phase_id", "state"),)
    # What each saved version keeps (``core.revisions``): the words, and the budget as text.
    __revised__: ClassVar[dict[str, str]] = {
        "title": "Title",
        "summary": "Summary",
        "lived_experience": "Who with lived experience is involved",
        "co_design": "Co-design",
        "co_decision": "Co-decision-making",
        "co_delivery": "Co-delivery",
        "co_evaluation": "Co-evaluation",
        "budget": "Budget",
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    phase_id: Mapped[int] = mapped_column(sa.ForeignKey("phases.id"))
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200), default="")
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    # Who with lived experience is involved, and how power is shared at each of the four stages.
    lived_experience: Mapped[str] = mapped_column(sa.Text, default="")
    co_design: Mapped[str] = mapped_column(sa.Text, default="")
    co_decision: Mapped[str] = mapped_column(sa.Text, default="")
    co_delivery: Mapped[str] = mapped_column(sa.Text, default="")
    co_evaluation: Mapped[str] = mapped_column(sa.Text, default="")
    state: Mapped[ApplicationState] = mapped_column(
        str_enum(ApplicationState, "application_state"), default=ApplicationState.DRAFT
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    phase: Mapped[Phase] = relationship(lazy="raise_on_sql")
    lead: Mapped[User] = relationship(lazy="raise_on_sql", foreign_keys=[lead_id])
    budget_lines: Mapped[list[BudgetLine]] = relationship(
        back_populates="application", lazy="raise_on_sql", cascade="all, delete-orphan", order_by="BudgetLine.id"
    )

    @property
    def budget(self) -> str:
        """The budget lines as text, one a line (load ``budget_lines`` first)."""
        return "\n".join(line.as_text for line in self.budget_lines)


class BudgetCategory(enum.StrEnum):
    LIVED_EXPERIENCE = "lived_experience"
    STAFF = "staff"
    VENUE = "venue"
    TRAVEL = "travel"
    ACCESS = "access"
    MATERIALS = "materials"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "lived_experience": "Paying people with lived experience",
            "staff": "Staff time",
            "venue": "Venues and catering",
            "travel": "Travel",
            "access": "Access and support costs",
            "materials": "Materials and equipment",
            "other": "Other",
        }[self.value]


class BudgetLine(Model):
    __tablename__ = "budget_lines"
    __table_args__ = (sa.CheckConstraint("amount_pence > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    category: Mapped[BudgetCategory] = mapped_column(str_enum(BudgetCategory, "budget_category"))
    description: Mapped[str] = mapped_column(sa.String(200))
    amount_pence: Mapped[int]

    application: Mapped[Application] = relationship(back_populates="budget_lines")

    @property
    def as_text(self) -> str:
        return f"{self.category.label}: {self.description}, {money(self.amount_pence)}"


class ApplicationMember(Model):
    """The application's team: its lead and the members who accepted an invitation."""

    __tablename__ = "application_members"
    __table_args__ = (sa.UniqueConstraint("application_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    role: Mapped[TeamRole] = mapped_column(str_enum(TeamRole, "application_team_role"), default=TeamRole.MEMBER)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(lazy="raise_on_sql")


class InvitationState(enum.StrEnum):
    """What became of an invitation. "Expired" is not stored: a pending invitation past its
    ``expires_at`` is expired (``Invitation.status``)."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


INVITATION_STATUS_LABELS = {
    "pending": "Waiting for an answer",
    "expired": "Expired",
    "accepted": "Accepted",
    "declined": "Declined",
    "withdrawn": "Withdrawn",
}


class Invitation(Model):
    """An offer, by email, to join an application's team or (after the award) a project's team.

    Nobody joins by signing in: the person signs in with the invited address, once it is
    verified, and accepts or declines. Exactly one of ``application_id`` and ``project_id`` is set.
    """

    __tablename__ = "invitations"
    __table_args__ = (
        sa.CheckConstraint("(application_id IS NULL) <> (project_id IS NULL)", name="one_team"),
        sa.Index("ix_invitations_email_state", "email", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int | None] = mapped_column(sa.ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int | None] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    invited_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[InvitationState] = mapped_column(
        str_enum(InvitationState, "invitation_state"), default=InvitationState.PENDING
    )
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When it was declined or withdrawn, and by whom (the invitee, the inviter, a lead or staff).
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    invited_by: Mapped[User] = relationship(foreign_keys=[invited_by_id], lazy="raise_on_sql")

    def status(self, now: datetime) -> str:
        """pending, expired, accepted, declined or withdrawn (a key of ``INVITATION_STATUS_LABELS``)."""
        if self.state == InvitationState.PENDING and self.expires_at <= now:
            return "expired"
        return self.state.value


# --- panel review ---------------------------------------------------------------------------


class ReviewerAssignment(Model):
    """A reviewer assigned to a whole phase (application_id empty) or to one application."""

    __tablename__ = "reviewer_assignments"
    __table_args__ = (sa.UniqueConstraint("phase_id", "application_id", "reviewer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phase_id: Mapped[int] = mapped_column(sa.ForeignKey("phases.id", ondelete="CASCADE"), index=True)
    application_id: Mapped[int | None] = mapped_column(sa.ForeignKey("applications.id", ondelete="CASCADE"))
    reviewer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    assigned_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    reviewer: Mapped[User] = relationship(foreign_keys=[reviewer_id], lazy="raise_on_sql")


class ReviewState(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    CONFLICT = "conflict"  # the reviewer declared a conflict of interest and sees nothing more


class Recommendation(enum.StrEnum):
    FUND = "fund"
    MAYBE = "maybe"
    DO_NOT_FUND = "do_not_fund"

    @property
    def label(self) -> str:
        return {"fund": "Fund", "maybe": "Maybe", "do_not_fund": "Do not fund"}[self.value]


class Review(Model):
    __tablename__ = "reviews"
    __table_args__ = (sa.UniqueConstraint("application_id", "reviewer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    state: Mapped[ReviewState] = mapped_column(str_enum(ReviewState, "review_state"), default=ReviewState.DRAFT)
    recommendation: Mapped[Recommendation | None] = mapped_column(str_enum(Recommendation, "recommendation"))
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    conflict_reason: Mapped[str] = mapped_column(sa.Text, default="")
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    reviewer: Mapped[User] = relationship(lazy="raise_on_sql")
    scores: Mapped[list[Score]] = relationship(
        back_populates="review", lazy="raise_on_sql", cascade="all, delete-orphan"
    )


class Score(Model):
    __tablename__ = "scores"
    __table_args__ = (
        sa.UniqueConstraint("review_id", "criterion_id"),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(sa.ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    criterion_id: Mapped[int] = mapped_column(sa.ForeignKey("criteria.id", ondelete="CASCADE"))
    score: Mapped[int]
    comment: Mapped[str] = mapped_column(sa.Text, default="")

    review: Mapped[Review] = relationship(back_populates="scores")


class Outcome(enum.StrEnum):
    AWARD = "award"
    DECLINE = "decline"


class Decision(Model):
    """The panel's decision on one application, recorded by staff."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("applications.id"), unique=True)
    outcome: Mapped[Outcome] = mapped_column(str_enum(Outcome, "outcome"))
    amount_pence: Mapped[int | None]
    rationale: Mapped[str] = mapped_column(sa.Text)
    decided_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- pilot projects -------------------------------------------------------------------------


class Milestone(Edited, Model):
    __tablename__ = "milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    due_on: Mapped[date]
    done_on: Mapped[date | None]


class ProjectExpense(Model):
    """Spending the team records against its award (remuneration claims are counted separately)."""

    __tablename__ = "project_expenses"
    __table_args__ = (sa.CheckConstraint("amount_pence > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    spent_on: Mapped[date]
    category: Mapped[BudgetCategory] = mapped_column(str_enum(BudgetCategory, "expense_budget_category"))
    description: Mapped[str] = mapped_column(sa.String(200))
    amount_pence: Mapped[int]
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReportState(enum.StrEnum):
    DUE = "due"  # created by the schedule, nothing written yet
    DRAFT = "draft"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    CHANGES_REQUESTED = "changes_requested"


class ProjectStatus(enum.StrEnum):
    ON_TRACK = "on_track"
    SOME_CONCERNS = "some_concerns"
    AT_RISK = "at_risk"

    @property
    def label(self) -> str:
        return {"on_track": "On track", "some_concerns": "Some concerns", "at_risk": "At risk"}[self.value]


class ProgressReport(Edited, Model):
    __tablename__ = "progress_reports"
    # Every saved version of what the team wrote (core.revisions), as the history page shows it.
    __revised__: ClassVar[dict[str, str]] = {
        "period_start": "First day this report covers",
        "period_end": "Last day this report covers",
        "what_happened": "What happened",
        "what_changed": "What changed",
        "what_we_learned": "What we learned",
        "challenges": "Challenges",
        "stage_labels": "Stages where people with lived experience were involved",
        "value_labels": "Values of co-production put into practice",
        "status": "How the project is going",
    }
    __table_args__ = (
        sa.Index("ix_progress_reports_state_due_on", "state", "due_on"),  # reports due and overdue, all projects
        # One project's reports in a state by date: the per-project figures (due, overdue, next due).
        sa.Index("ix_progress_reports_project_state_due", "project_id", "state", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    due_on: Mapped[date]
    is_final: Mapped[bool] = mapped_column(default=False)
    period_start: Mapped[date | None]
    period_end: Mapped[date | None]
    what_happened: Mapped[str] = mapped_column(sa.Text, default="")
    what_changed: Mapped[str] = mapped_column(sa.Text, default="")
    what_we_learned: Mapped[str] = mapped_column(sa.Text, default="")
    challenges: Mapped[str] = mapped_column(sa.Text, default="")
    stages: Mapped[list[str]] = mapped_column(sa.JSON, default=list)  # keys of vocabulary.STAGES
    values: Mapped[list[str]] = mapped_column(sa.JSON, default=list)  # keys of vocabulary.VALUES
    status: Mapped[ProjectStatus | None] = mapped_column(str_enum(ProjectStatus, "project_status"))
    state: Mapped[ReportState] = mapped_column(str_enum(ReportState, "report_state"), default=ReportState.DUE)
    feedback: Mapped[str] = mapped_column(sa.Text, default="")
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    learning_published: Mapped[bool] = mapped_column(default=False)  # shown on the public pilot page

    project: Mapped[Project] = relationship(lazy="raise_on_sql")

    @property
    def stage_labels(self) -> list[str]:
        return vocabulary.labels(vocabulary.STAGES, self.stages)

    @property
    def value_labels(self) -> list[str]:
        return vocabulary.labels(vocabulary.VALUES, self.values)
