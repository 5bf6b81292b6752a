"""Pilot projects: made by an award, with a team, dates and a reporting schedule.

Staff change a project's dates and schedule, and the team its milestones, from forms that carry
the version they were opened at (``core.edits``): a save from a page opened before someone
else's changes nothing and shows both versions instead of overwriting theirs.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from portal.accounts.models import User
from portal.core import audit, edits, outbox, permissions
from portal.core.errors import NotAllowed, RuleBroken
from portal.core.extensions import db
from portal.core.formatting import money
from portal.grants.models import (
    Application,
    ApplicationMember,
    BudgetCategory,
    Milestone,
    Phase,
    ProgressReport,
    ProjectExpense,
    ReportState,
)
from portal.remuneration import budgets
from portal.remuneration.claims import outside_project_dates
from portal.teams.membership import add_to_team
from portal.teams.models import Project, ProjectState, ReportingSchedule, TeamMembership, TeamRole

MAX_EXPENSE_PENCE = 100_000_00  # one line; a typo of extra zeros is caught, a real big spend is not refused


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it is shorter (31 Jan + 1 = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def report_due_dates(kind: ReportingSchedule, start: date, end: date, custom: list[date] | None = None) -> list[date]:
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
        raise RuleBroken(
            "custom_dates", "Every report date must be after the start date and no later than the end date."
        )
    return chosen if chosen[-1] == end else [*chosen, end]


def schedule_reports(
    project: Project, kind: ReportingSchedule, *, by: User, custom: list[date] | None = None
) -> list[ProgressReport]:
    """Set the schedule: reports not yet written are replaced; written ones are kept."""
    if project.start_date is None or project.end_date is None:
        raise RuleBroken("start_date", "Set the project's start and end dates first.")
    dates = report_due_dates(kind, project.start_date, project.end_date, custom)
    db.session.execute(
        sa.delete(ProgressReport).where(
            ProgressReport.project_id == project.id, ProgressReport.state == ReportState.DUE
        )
    )
    kept = set(db.session.scalars(sa.select(ProgressReport.due_on).where(ProgressReport.project_id == project.id)))
    made = []
    previous = project.start_date
    for due in dates:
        if due not in kept:
            report = ProgressReport(
                project_id=project.id,
                due_on=due,
                is_final=due == dates[-1],
                period_start=previous,
                period_end=due,
                state=ReportState.DUE,
                stages=[],
                values=[],
            )
            db.session.add(report)
            made.append(report)
        previous = due + timedelta(days=1)
    # Reports the team has already written stay; only the one due on the end date is the final
    # one, so accepting an earlier report never closes the project by mistake.
    db.session.execute(
        sa.update(ProgressReport)
        .where(ProgressReport.project_id == project.id, ProgressReport.state != ReportState.DUE)
        .values(is_final=ProgressReport.due_on == dates[-1])
        .execution_options(synchronize_session="fetch")
    )
    project.reporting_schedule = kind
    audit.record(
        "project.schedule_set", project, actor=by, after={"schedule": kind.value, "due": [d.isoformat() for d in dates]}
    )
    return made


def create_project_from_award(application: Application, *, amount_pence: int, start_date: date, by: User) -> Project:
    """The award's project: the application's team, start + the phase's delivery months, and
    a midpoint + final reporting schedule (staff can change it)."""
    phase = db.session.get_one(Phase, application.phase_id)
    project = Project(
        title=application.title,
        summary=application.summary,
        award_pence=amount_pence,
        phase_id=phase.id,
        application_id=application.id,
        start_date=start_date,
        end_date=add_months(start_date, phase.delivery_months),
    )
    db.session.add(project)
    db.session.flush()
    members = db.session.execute(
        sa.select(ApplicationMember.user_id, ApplicationMember.role).where(
            ApplicationMember.application_id == application.id
        )
    ).all()
    team = {user_id: role for user_id, role in members}
    team[application.lead_id] = TeamRole.LEAD
    people = {user.id: user for user in db.session.scalars(sa.select(User).where(User.id.in_(team)))}
    for user_id, role in team.items():
        add_to_team(project, people[user_id], role, by=by)
    audit.record(
        "project.created", project, actor=by, after={"application": application.id, "award_pence": amount_pence}
    )
    schedule_reports(project, ReportingSchedule.MIDPOINT_FINAL, by=by)
    return project


# --- dates and schedule (staff) -------------------------------------------------------------


def _require(user: User, rule: str, project: Project) -> None:
    if not permissions.can(user, rule, project):
        raise NotAllowed(f"{rule} refused for project {project.id}")


def _still_running(project: Project, field: str) -> None:
    if project.state == ProjectState.CLOSED:
        raise RuleBroken(field, "This project is closed, so it can no longer be changed.")


def team_members(project_id: int) -> list[User]:
    return list(
        db.session.scalars(
            sa.select(User)
            .join(TeamMembership, TeamMembership.user_id == User.id)
            .where(TeamMembership.project_id == project_id)
            .order_by(TeamMembership.role, User.name)
        )
    )


def tell_team(project: Project, kind: str, subject: str, body: str) -> None:
    """One outbox message to each team member, in the caller's transaction."""
    for person in team_members(project.id):
        if person.is_active:
            outbox.enqueue(kind, person.email, subject, f"Hello {person.name},\n\n{body}\n\nProject: {project.title}\n")


def _due_list(project: Project) -> str:
    dates = db.session.scalars(
        sa.select(ProgressReport.due_on).where(ProgressReport.project_id == project.id).order_by(ProgressReport.due_on)
    )
    return "\n".join(f"- {day:%-d %B %Y}" for day in dates)


def custom_dates_within(project: Project, start: date, end: date) -> list[date]:
    """The custom schedule's dates that still fit between new start and end dates."""
    kept = [
        day
        for day in db.session.scalars(
            sa.select(ProgressReport.due_on).where(
                ProgressReport.project_id == project.id, ProgressReport.is_final.is_(False)
            )
        )
        if start < day < end
    ]
    return [*kept, end]


SCHEDULE_LABELS = {"reporting_schedule": "How often the team reports"}
DATE_LABELS = {"start_date": "Start date", "end_date": "End date"}


def _schedule_shown(name: str, value: object) -> str:
    names = {
        ReportingSchedule.MONTHLY: "Every month",
        ReportingSchedule.MIDPOINT_FINAL: "Halfway through, and at the end",
        ReportingSchedule.CUSTOM: "On dates staff chose",
    }
    if isinstance(value, ReportingSchedule):
        return names[value]
    return "Not set" if value is None else str(value)


def set_schedule(
    project: Project,
    kind: ReportingSchedule,
    *,
    by: User,
    custom: list[date] | None = None,
    seen: int | None = None,
) -> list[ProgressReport]:
    """Staff choose how often the team reports (from a page showing version ``seen``); the team
    is told the new due dates."""
    _require(by, "project.manage", project)
    edits.check_fresh(
        project, seen, {"reporting_schedule": kind}, by=by, labels=SCHEDULE_LABELS, display=_schedule_shown
    )
    _still_running(project, "kind")
    made = schedule_reports(project, kind, by=by, custom=custom)
    edits.stamp(project, by=by)  # even the same kind with new dates is a change of schedule
    db.session.flush()
    tell_team(
        project,
        "project_schedule",
        "Your progress report dates",
        "The programme team has set when your progress reports are due:\n\n" + _due_list(project),
    )
    return made


def change_dates(
    project: Project, *, start_date: date | None, end_date: date | None, by: User, seen: int | None = None
) -> None:
    """Staff move the project's dates (from a page showing version ``seen``); the reporting
    schedule is worked out again for them."""
    _require(by, "project.manage", project)
    edits.check_fresh(project, seen, {"start_date": start_date, "end_date": end_date}, by=by, labels=DATE_LABELS)
    _still_running(project, "start_date")
    if start_date is None:
        raise RuleBroken("start_date", "Enter the start date, like 31 1 2026.")
    if end_date is None:
        raise RuleBroken("end_date", "Enter the end date, like 31 8 2026.")
    if end_date <= start_date:
        raise RuleBroken("end_date", "The end date must be after the start date.")
    before = {"start_date": _iso(project.start_date), "end_date": _iso(project.end_date)}
    kind = project.reporting_schedule or ReportingSchedule.MIDPOINT_FINAL
    custom = custom_dates_within(project, start_date, end_date) if kind == ReportingSchedule.CUSTOM else None
    edits.edit(project, {"start_date": start_date, "end_date": end_date}, by=by, seen=seen, labels=DATE_LABELS)
    audit.record(
        "project.dates_changed",
        project,
        actor=by,
        before=before,
        after={"start_date": start_date.isoformat(), "end_date": end_date.isoformat()},
    )
    schedule_reports(project, kind, by=by, custom=custom)
    db.session.flush()
    tell_team(
        project,
        "project_dates",
        "Your project's dates have changed",
        f"Your project now runs from {start_date:%-d %B %Y} to {end_date:%-d %B %Y}. "
        "Your progress reports are now due on:\n\n" + _due_list(project),
    )


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


# --- milestones and expenses (the team) -----------------------------------------------------


MILESTONE_LABELS = {"title": "Milestone", "due_on": "Due date", "done_on": "Done"}


def _milestone_shown(name: str, value: object) -> str:
    if name == "done_on":
        return f"Done on {value:%-d %B %Y}" if isinstance(value, date) else "Not done yet"
    return f"{value:%-d %B %Y}" if isinstance(value, date) else edits.shown(value)


def _milestone_problems(project: Project, title: str, due_on: date | None) -> None:
    if not title:
        raise RuleBroken("title", 'Enter what the milestone is, like "First co-design workshop".')
    if len(title) > 200:
        raise RuleBroken("title", "Keep the milestone to 200 characters or fewer.")
    if due_on is None:
        raise RuleBroken("due_on", "Enter the date the milestone is due, like 30 4 2026.")
    if project.start_date and project.end_date and not project.start_date <= due_on <= project.end_date:
        raise RuleBroken(
            "due_on",
            f"Choose a date from {project.start_date:%-d %B %Y} to "
            f"{project.end_date:%-d %B %Y}, while the project runs.",
        )


def add_milestone(project: Project, *, title: str, due_on: date | None, by: User) -> Milestone:
    _require(by, "project.report", project)
    title = title.strip()
    _milestone_problems(project, title, due_on)
    assert due_on is not None  # checked above
    milestone = Milestone(project_id=project.id, title=title, due_on=due_on)
    db.session.add(milestone)
    db.session.flush()
    audit.record("milestone.added", milestone, actor=by, after={"title": title, "due_on": due_on.isoformat()})
    return milestone


def change_milestone(
    project: Project, milestone: Milestone, *, title: str, due_on: date | None, by: User, seen: int | None
) -> bool:
    """The team renames or moves a milestone, from a page showing version ``seen``. True when
    anything changed."""
    _require(by, "project.report", project)
    if milestone.project_id != project.id:
        raise NotAllowed("That milestone belongs to another project.")
    title = title.strip()
    new = {"title": title, "due_on": due_on}
    edits.check_fresh(milestone, seen, new, by=by, labels=MILESTONE_LABELS, display=_milestone_shown)
    _milestone_problems(project, title, due_on)
    before = {"title": milestone.title, "due_on": _iso(milestone.due_on)}
    if not edits.edit(milestone, new, by=by, seen=seen, labels=MILESTONE_LABELS, display=_milestone_shown):
        return False
    audit.record(
        "milestone.changed", milestone, actor=by, before=before, after={"title": title, "due_on": _iso(due_on)}
    )
    return True


def mark_milestone(
    project: Project, milestone: Milestone, *, done: bool, by: User, today: date, seen: int | None = None
) -> None:
    """Mark a milestone done (today) or not done yet, from a page showing version ``seen``."""
    _require(by, "project.report", project)
    if milestone.project_id != project.id:
        raise NotAllowed("That milestone belongs to another project.")
    before = {"done_on": _iso(milestone.done_on)}
    done_on = (milestone.done_on or today) if done else None
    if done_on == milestone.done_on:
        return  # already as asked (someone else pressed the same button first): nothing to refuse
    edits.edit(milestone, {"done_on": done_on}, by=by, seen=seen, labels=MILESTONE_LABELS, display=_milestone_shown)
    audit.record(
        "milestone.done" if done else "milestone.reopened",
        milestone,
        actor=by,
        before=before,
        after={"done_on": _iso(milestone.done_on)},
    )


def add_expense(
    project: Project,
    *,
    spent_on: date | None,
    category: BudgetCategory | None,
    description: str,
    amount_pence: int | None,
    by: User,
    today: date,
) -> ProjectExpense:
    _require(by, "project.report", project)
    if spent_on is None:
        raise RuleBroken("spent_on", "Enter the date the money was spent, like 3 2 2026.")
    if spent_on > today:
        raise RuleBroken("spent_on", "The date must be today or in the past.")
    if outside := outside_project_dates(project, spent_on):
        raise RuleBroken("spent_on", f"{outside} Choose a date in that time.")
    if category is None:
        raise RuleBroken("category", "Choose what kind of spending this is.")
    description = description.strip()
    if not description:
        raise RuleBroken("description", 'Say what the money was spent on, like "Room hire for workshop".')
    if len(description) > 200:
        raise RuleBroken("description", "Keep the description to 200 characters or fewer.")
    if amount_pence is None or amount_pence <= 0:
        raise RuleBroken("amount", "Enter an amount more than £0, like 45.50.")
    if amount_pence > MAX_EXPENSE_PENCE:
        raise RuleBroken("amount", f"Enter no more than {money(MAX_EXPENSE_PENCE)} for one line.")
    expense = ProjectExpense(
        project_id=project.id,
        spent_on=spent_on,
        category=category,
        description=description,
        amount_pence=amount_pence,
        recorded_by_id=by.id,
    )
    db.session.add(expense)
    db.session.flush()
    audit.record(
        "project_expense.added",
        expense,
        actor=by,
        after={
            "project": project.id,
            "amount_pence": amount_pence,
            "spent_on": spent_on.isoformat(),
            "category": category.value,
            "description": description,
        },
    )
    return expense


def remove_expense(project: Project, expense: ProjectExpense, *, by: User) -> None:
    _require(by, "project.report", project)
    if expense.project_id != project.id:
        raise NotAllowed("That expense belongs to another project.")
    audit.record(
        "project_expense.removed",
        expense,
        actor=by,
        before={
            "project": project.id,
            "amount_pence": expense.amount_pence,
            "spent_on": expense.spent_on.isoformat(),
            "description": expense.description,
        },
    )
    db.session.delete(expense)


# --- budget ---------------------------------------------------------------------------------


def percent_used(spent_pence: int, award_pence: int | None) -> int | None:
    """Whole per cent of the award spent, rounded down (integer arithmetic, never float)."""
    if not award_pence:
        return None
    return spent_pence * 100 // award_pence


@dataclass(frozen=True)
class Budget:
    award_pence: int | None
    expenses_pence: int  # lines the team records
    remuneration_pence: int  # claims for paid time charged to the project

    @property
    def spent_pence(self) -> int:
        return self.expenses_pence + self.remuneration_pence

    @property
    def remaining_pence(self) -> int | None:
        return None if self.award_pence is None else self.award_pence - self.spent_pence

    @property
    def percent_used(self) -> int | None:
        return percent_used(self.spent_pence, self.award_pence)


def budget(project: Project) -> Budget:
    expenses = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(ProjectExpense.amount_pence), 0)).where(
            ProjectExpense.project_id == project.id
        )
    )
    return Budget(
        award_pence=project.award_pence,
        expenses_pence=int(expenses or 0),
        remuneration_pence=budgets.project_spend_pence(project.id),
    )
