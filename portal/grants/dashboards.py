"""Set-based queries for the grants dashboards, the public pilot pages and the exports.

Every figure is a correlated subquery or an aggregate, so a page of 5 projects and a page of
50 take the same number of queries. Spend is the team's recorded expenses plus remuneration
charged to the project, counted as ``remuneration.budgets.project_spend_pence`` counts it.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from portal.core.extensions import db
from portal.core.keyset_lists import KeysetPage, keyset_page
from portal.grants.models import (
    Application,
    ApplicationState,
    Milestone,
    Phase,
    ProgressReport,
    ProjectExpense,
    ProjectStatus,
    ReportState,
)
from portal.grants.projects import percent_used
from portal.grants.reports import OPEN_STATES
from portal.remuneration.models import COMMITTED_STATES, Claim, ExpenseLine
from portal.teams.models import Project, ProjectState, TeamMembership

AWAITING_REVIEW = (ApplicationState.SUBMITTED, ApplicationState.UNDER_REVIEW)


def _total(column: sa.ColumnExpressionArgument[int | None]) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(column), 0)


def spend_pence(project_id: sa.ColumnExpressionArgument[int]) -> sa.ColumnElement[int]:
    """Expenses + remuneration charged to the project whose id is ``project_id`` (correlated)."""
    expenses = (
        sa.select(_total(ProjectExpense.amount_pence)).where(ProjectExpense.project_id == project_id).scalar_subquery()
    )
    fees = (
        sa.select(_total(Claim.fee_pence))
        .where(Claim.project_id == project_id, Claim.state.in_(COMMITTED_STATES), Claim.payment_declined.is_(False))
        .scalar_subquery()
    )
    claim_expenses = (
        sa.select(_total(ExpenseLine.amount_pence))
        .join(Claim, Claim.id == ExpenseLine.claim_id)
        .where(Claim.project_id == project_id, Claim.state.in_(COMMITTED_STATES))
        .scalar_subquery()
    )
    return expenses + fees + claim_expenses


def latest_status() -> sa.ScalarSelect[ProjectStatus]:
    """The status in the project's most recently sent report (sent or accepted)."""
    return (
        sa.select(ProgressReport.status)
        .where(
            ProgressReport.project_id == Project.id,
            ProgressReport.state.in_((ReportState.SUBMITTED, ReportState.ACCEPTED)),
        )
        .order_by(ProgressReport.submitted_at.desc(), ProgressReport.id.desc())
        .limit(1)
        .correlate(Project)
        .scalar_subquery()
    )


def _count_reports(*conditions: sa.ColumnElement[bool]) -> sa.ScalarSelect[int]:
    return (
        sa.select(sa.func.count(ProgressReport.id))
        .where(ProgressReport.project_id == Project.id, *conditions)
        .correlate(Project)
        .scalar_subquery()
    )


def figure_columns(today: date) -> list[sa.Label[Any]]:
    """One row of figures per project: spend, next report, milestones and report counts."""
    # A closed project's unwritten reports are no longer chased: not due, not overdue.
    open_report = sa.and_(ProgressReport.state.in_(OPEN_STATES), Project.state == ProjectState.ACTIVE)
    return [
        spend_pence(Project.id).label("spent_pence"),
        sa.select(sa.func.min(ProgressReport.due_on))
        .where(ProgressReport.project_id == Project.id, open_report)
        .correlate(Project)
        .scalar_subquery()
        .label("next_due"),
        sa.select(sa.func.count(Milestone.id))
        .where(Milestone.project_id == Project.id, Milestone.done_on.is_not(None))
        .correlate(Project)
        .scalar_subquery()
        .label("milestones_done"),
        sa.select(sa.func.count(Milestone.id))
        .where(Milestone.project_id == Project.id)
        .correlate(Project)
        .scalar_subquery()
        .label("milestones_total"),
        _count_reports(open_report, ProgressReport.due_on >= today).label("reports_due"),
        _count_reports(open_report, ProgressReport.due_on < today).label("reports_overdue"),
        _count_reports(ProgressReport.state == ReportState.SUBMITTED).label("reports_submitted"),
        _count_reports(ProgressReport.state == ReportState.ACCEPTED).label("reports_accepted"),
        latest_status().label("latest_status"),
    ]


@dataclass(frozen=True)
class ProjectFigures:
    award_pence: int | None
    spent_pence: int
    next_due: date | None
    milestones_done: int
    milestones_total: int
    reports_due: int
    reports_overdue: int
    reports_submitted: int
    reports_accepted: int
    latest_status: ProjectStatus | None

    @property
    def remaining_pence(self) -> int | None:
        return None if self.award_pence is None else self.award_pence - self.spent_pence

    @property
    def percent_used(self) -> int | None:
        return percent_used(self.spent_pence, self.award_pence)


def figures_from_row(row: sa.Row[*tuple[Any, ...]]) -> ProjectFigures:
    status = row.latest_status
    return ProjectFigures(
        award_pence=row.award_pence,
        spent_pence=int(row.spent_pence or 0),
        next_due=row.next_due,
        milestones_done=int(row.milestones_done),
        milestones_total=int(row.milestones_total),
        reports_due=int(row.reports_due),
        reports_overdue=int(row.reports_overdue),
        reports_submitted=int(row.reports_submitted),
        reports_accepted=int(row.reports_accepted),
        latest_status=ProjectStatus(status) if status else None,
    )


def project_figures(project_ids: list[int], *, today: date) -> dict[int, ProjectFigures]:
    """Figures for a page of projects, in one query."""
    if not project_ids:
        return {}
    rows = db.session.execute(
        sa.select(Project.id, Project.award_pence, *figure_columns(today)).where(Project.id.in_(project_ids))
    )
    return {row.id: figures_from_row(row) for row in rows}


def my_projects_query(user_id: int) -> sa.Select[Project]:
    """The projects a person is on the team of: running ones first, then by title."""
    return (
        sa.select(Project)
        .join(TeamMembership, TeamMembership.project_id == Project.id)
        .where(TeamMembership.user_id == user_id)
        .options(joinedload(Project.phase))
        .order_by(Project.state, Project.title, Project.id)
    )


# --- staff dashboard ------------------------------------------------------------------------


@dataclass(frozen=True)
class PhaseMoney:
    phase: Phase
    awarded_pence: int
    spent_pence: int
    awaiting_review: int

    @property
    def unawarded_pence(self) -> int:
        return self.phase.pot_pence - self.awarded_pence


def phase_money() -> list[PhaseMoney]:
    """Each phase's pot, what has been awarded and spent, and applications awaiting the panel."""
    in_phase = Project.phase_id == Phase.id
    awarded = sa.select(_total(Project.award_pence)).where(in_phase).correlate(Phase).scalar_subquery()
    expenses = (
        sa.select(_total(ProjectExpense.amount_pence))
        .join(Project, Project.id == ProjectExpense.project_id)
        .where(in_phase)
        .correlate(Phase)
        .scalar_subquery()
    )
    fees = (
        sa.select(_total(Claim.fee_pence))
        .join(Project, Project.id == Claim.project_id)
        .where(in_phase, Claim.state.in_(COMMITTED_STATES), Claim.payment_declined.is_(False))
        .correlate(Phase)
        .scalar_subquery()
    )
    claim_expenses = (
        sa.select(_total(ExpenseLine.amount_pence))
        .join(Claim, Claim.id == ExpenseLine.claim_id)
        .join(Project, Project.id == Claim.project_id)
        .where(in_phase, Claim.state.in_(COMMITTED_STATES))
        .correlate(Phase)
        .scalar_subquery()
    )
    awaiting = (
        sa.select(sa.func.count(Application.id))
        .where(Application.phase_id == Phase.id, Application.state.in_(AWAITING_REVIEW))
        .correlate(Phase)
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(Phase, awarded, expenses + fees + claim_expenses, awaiting).order_by(Phase.opens_on.desc(), Phase.id)
    )
    return [PhaseMoney(phase, int(a or 0), int(s or 0), int(w or 0)) for phase, a, s, w in rows]


def month_bounds(today: date) -> tuple[date, date]:
    return today.replace(day=1), today.replace(day=calendar.monthrange(today.year, today.month)[1])


@dataclass(frozen=True)
class ReportCounts:
    due_this_month: int
    overdue: int
    waiting_for_decision: int


def report_counts(today: date) -> ReportCounts:
    """Reports for running projects not yet sent and due this calendar month, or already late;
    and reports sent and waiting for staff. One query."""
    first, last = month_bounds(today)
    still_open = sa.and_(ProgressReport.state.in_(OPEN_STATES), Project.state == ProjectState.ACTIVE)

    def count_where(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    row = db.session.execute(
        sa.select(
            count_where(sa.and_(still_open, ProgressReport.due_on.between(first, last))),
            count_where(sa.and_(still_open, ProgressReport.due_on < today)),
            count_where(ProgressReport.state == ReportState.SUBMITTED),
        )
        .select_from(ProgressReport)
        .join(Project, Project.id == ProgressReport.project_id)
    ).one()
    return ReportCounts(*(int(value) for value in row))


def awaiting_review_count() -> int:
    return int(
        db.session.scalar(sa.select(sa.func.count(Application.id)).where(Application.state.in_(AWAITING_REVIEW))) or 0
    )


def at_risk_query() -> sa.Select[Project]:
    """Running projects whose latest sent report says they are at risk."""
    return (
        sa.select(Project)
        .where(Project.state == ProjectState.ACTIVE, latest_status() == ProjectStatus.AT_RISK)
        .options(joinedload(Project.phase))
        .order_by(Project.title, Project.id)
    )


def at_risk_page() -> KeysetPage[Project]:
    """A page of them by (title, id): the projects are read in title order only until a page is
    found, with no count of them all (the dashboard links to the reports list for that)."""
    return keyset_page(at_risk_query(), Project.title, Project.id, descending=False)


# --- public pilot pages ---------------------------------------------------------------------


def pilots_query() -> sa.Select[Project]:
    """Every funded pilot: a project that came from an award in a phase."""
    return (
        sa.select(Project)
        .where(Project.phase_id.is_not(None))
        .options(joinedload(Project.phase))
        .order_by(Project.title, Project.id)
    )


def pilot(project_id: int) -> Project | None:
    return db.session.scalar(pilots_query().where(Project.id == project_id))


def published_learning_query(project: Project) -> sa.Select[ProgressReport]:
    return (
        sa.select(ProgressReport)
        .where(
            ProgressReport.project_id == project.id,
            ProgressReport.state == ReportState.ACCEPTED,
            ProgressReport.learning_published.is_(True),
        )
        .order_by(ProgressReport.due_on, ProgressReport.id)
    )
