"""Pilot projects: made by an award, with a team, dates and a reporting schedule."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import sqlalchemy as sa

from portal import audit
from portal.accounts.models import User
from portal.errors import RuleBroken
from portal.extensions import db
from portal.grants.models import (
    Application,
    ApplicationMember,
    Phase,
    ProgressReport,
    Project,
    ReportingSchedule,
    ReportState,
    TeamMembership,
    TeamRole,
)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it is shorter (31 Jan + 1 = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def report_due_dates(kind: ReportingSchedule, start: date, end: date,
                     custom: list[date] | None = None) -> list[date]:
    """When progress reports fall due; the last date is always the final report, due at the end."""
    if end <= start:
        raise RuleBroken("end_date", "The end date must be after the start date.")
    if kind == ReportingSchedule.MONTHLY:
        dates, months = [], 1
        while (due := add_months(start, months)) < end:
            dates.append(due)
            months += 1
        return [*dates, end]
    if kind == ReportingSchedule.MIDPOINT_FINAL:
        return [start + (end - start) // 2, end]
    chosen = sorted(set(custom or []))
    if not chosen:
        raise RuleBroken("custom_dates", "Enter at least one date for a progress report.")
    outside = [d for d in chosen if d <= start or d > end]
    if outside:
        raise RuleBroken("custom_dates", "Every report date must be after the start date and no later than the end date.")
    return chosen if chosen[-1] == end else [*chosen, end]


def schedule_reports(project: Project, kind: ReportingSchedule, *, by: User,
                     custom: list[date] | None = None) -> list[ProgressReport]:
    """Set the schedule: reports not yet written are replaced; written ones are kept."""
    if project.start_date is None or project.end_date is None:
        raise RuleBroken("start_date", "Set the project's start and end dates first.")
    dates = report_due_dates(kind, project.start_date, project.end_date, custom)
    db.session.execute(sa.delete(ProgressReport).where(
        ProgressReport.project_id == project.id, ProgressReport.state == ReportState.DUE))
    kept = set(db.session.scalars(sa.select(ProgressReport.due_on).where(ProgressReport.project_id == project.id)))
    made = []
    previous = project.start_date
    for due in dates:
        if due not in kept:
            report = ProgressReport(project_id=project.id, due_on=due, is_final=due == dates[-1],
                                    period_start=previous, period_end=due, state=ReportState.DUE,
                                    stages=[], values=[])
            db.session.add(report)
            made.append(report)
        previous = due + timedelta(days=1)
    project.reporting_schedule = kind
    audit.record("project.schedule_set", project, actor=by,
                 after={"schedule": kind.value, "due": [d.isoformat() for d in dates]})
    return made


def create_project_from_award(application: Application, *, amount_pence: int, start_date: date,
                              by: User) -> Project:
    """The award's project: the application's team, start + the phase's delivery months, and
    a midpoint + final reporting schedule (staff can change it)."""
    phase = db.session.get(Phase, application.phase_id)
    project = Project(title=application.title, summary=application.summary, award_pence=amount_pence,
                      phase_id=phase.id, application_id=application.id, start_date=start_date,
                      end_date=add_months(start_date, phase.delivery_months))
    db.session.add(project)
    db.session.flush()
    members = db.session.execute(
        sa.select(ApplicationMember.user_id, ApplicationMember.role).where(
            ApplicationMember.application_id == application.id)
    ).all()
    team = {user_id: role for user_id, role in members}
    team[application.lead_id] = TeamRole.LEAD
    for user_id, role in team.items():
        db.session.add(TeamMembership(project_id=project.id, user_id=user_id, role=role))
    audit.record("project.created", project, actor=by,
                 after={"application": application.id, "award_pence": amount_pence})
    schedule_reports(project, ReportingSchedule.MIDPOINT_FINAL, by=by)
    return project
