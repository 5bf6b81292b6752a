"""What the grants programme does by date, as scheduled jobs (see ``portal.core.schedule``).

- Rounds open at their opening date and time and close at their closing date and time (UK
  time), without a click; a round that cannot open (no scoring criteria) is reported to staff.
- Applicants with a draft are told 7 days and 1 day before their round closes.
- Reports: the team is reminded 7 days before the due date, on the day and once it is overdue;
  staff are told when a report is 14 days overdue.
- Reviewers are reminded 3 days before the panel's deadline of reviews they have not sent.
- Someone invited to a team who has not answered after 7 days is reminded once (while the
  invitation waits and has not expired).

Every reminder goes through ``notifications.reminders.remind``, which sends it once per
occasion and not at all when the person switched that kind off.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app

from portal.accounts.models import Role, User
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.core.formatting import LONDON, local_date
from portal.core.schedule import job
from portal.grants import invitations, phases
from portal.grants.models import (
    Application,
    ApplicationState,
    Invitation,
    Phase,
    PhaseState,
    ProgressReport,
    Review,
    ReviewerAssignment,
    ReviewState,
)
from portal.grants.reports import OPEN_STATES
from portal.notifications.reminders import remind, remind_address
from portal.teams.models import Project, TeamMembership

REPORT_WEEK_BEFORE = 7
STAFF_OVERDUE_DAYS = 14
REVIEW_DAYS_BEFORE = 3
INVITATION_DAYS = 7
CLOSING_NOTICES = ((1, "closes-tomorrow"), (7, "closes-in-7-days"))  # nearest first


def opens_at(phase: Phase) -> datetime:
    return datetime.combine(phase.opens_on, phase.opens_time, LONDON)


def closes_at(phase: Phase) -> datetime:
    return datetime.combine(phase.closes_on, phase.closes_time, LONDON)


def _staff() -> list[User]:
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.role.in_([Role.STAFF, Role.FINANCE, Role.ADMIN]), User.deactivated_at.is_(None))
            .order_by(User.id)
        )
    )


def _when(moment: datetime) -> str:
    return f"{moment:%H:%M} on {local_date(moment.date())}"


# --- rounds open and close ---------------------------------------------------------------------


def _open_due(now: datetime) -> tuple[int, list[str]]:
    opened, problems = 0, []
    for phase in db.session.scalars(
        sa.select(Phase).where(Phase.state == PhaseState.DRAFT, Phase.opens_on <= now.astimezone(LONDON).date())
    ):
        if not opens_at(phase) <= now < closes_at(phase):
            continue
        try:
            with db.session.begin_nested():
                phases.move_phase(phase, PhaseState.OPEN, by=None, today=now.astimezone(LONDON).date())
        except RuleBroken as problem:
            problems.append(phase.name)
            for person in _staff():
                remind(
                    person,
                    "phase_reminder",
                    key=f"phase:{phase.id}",
                    occasion=f"could-not-open-{phase.opens_on.isoformat()}",
                    subject=f"The round '{phase.name}' could not open by itself",
                    body=f"'{phase.name}' was due to open at {_when(opens_at(phase))}, but: {problem.message}",
                    url_path=f"/staff/phases/{phase.id}/edit",
                )
        else:
            opened += 1
    return opened, problems


def _close_due(now: datetime) -> int:
    closed = 0
    for phase in db.session.scalars(
        sa.select(Phase).where(Phase.state == PhaseState.OPEN, Phase.closes_on <= now.astimezone(LONDON).date())
    ):
        if closes_at(phase) <= now:
            phases.move_phase(phase, PhaseState.ASSESSING, by=None, today=now.astimezone(LONDON).date())
            closed += 1
    return closed


def _closing_words(closes_on: date, today: date) -> str:
    """How the closing day is said: "today", "tomorrow" or "in 6 days" (UK dates)."""
    days = (closes_on - today).days
    return "today" if days <= 0 else "tomorrow" if days == 1 else f"in {days} days"


def _closing_notices(now: datetime) -> int:
    """Tell the lead of each draft 7 days and 1 day before the round closes."""
    sent = 0
    today = now.astimezone(LONDON).date()
    drafts = db.session.execute(
        sa.select(Application, Phase, User)
        .join(Phase, Phase.id == Application.phase_id)
        .join(User, User.id == Application.lead_id)
        .where(
            Phase.state == PhaseState.OPEN,
            Phase.closes_on <= today + timedelta(days=CLOSING_NOTICES[-1][0]),
            Application.state == ApplicationState.DRAFT,
        )
        .order_by(Application.id)
    )
    for application, phase, lead in drafts:
        left = closes_at(phase) - now
        for days, occasion in CLOSING_NOTICES:
            if timedelta(0) < left <= timedelta(days=days):
                title = application.title or "Untitled application"
                when = _closing_words(phase.closes_on, today)
                sent += remind(
                    lead,
                    "phase_reminder",
                    key=f"application:{application.id}",
                    occasion=occasion,
                    subject=f"'{phase.name}' closes {when}: your application '{title}' is not sent yet",
                    body=f"Applications to '{phase.name}' close at {_when(closes_at(phase))}. Your application "
                    f"'{title}' is still a draft: send it before then, or it will not go to the panel.",
                    url_path=f"/applications/{application.id}",
                )
                break  # only the nearest notice applies
    return sent


@job("rounds", "Open and close funding rounds at their dates", every_minutes=1)
def rounds(now: datetime) -> str:
    opened, problems = _open_due(now)
    closed = _close_due(now)
    told = _closing_notices(now)
    result = f"Opened {opened}, closed {closed}, {told} closing reminders."
    if problems:
        result += f" Could not open: {', '.join(problems)}."
    return result


# --- reports -----------------------------------------------------------------------------------


def report_occasion(due_on: date, today: date) -> tuple[str, str] | None:
    """(occasion, how it is said) for a report not yet sent, or None when nothing is due."""
    days = (due_on - today).days
    if days == REPORT_WEEK_BEFORE:
        return "due-in-7-days", "due in 7 days"
    if 0 < days < REPORT_WEEK_BEFORE:
        return "due-in-7-days", f"due in {days} day{'s' if days != 1 else ''}"  # a late catch-up of the first
    if days == 0:
        return "due-today", "due today"
    if days < 0:
        return "overdue", f"overdue by {-days} day{'s' if days != -1 else ''}"
    return None


@job("report-reminders", "Remind teams of reports due and overdue", daily_at=time(8, 0))
def report_reminders(now: datetime) -> str:
    today = now.astimezone(LONDON).date()
    rows = list(
        db.session.execute(
            sa.select(ProgressReport, Project)
            .join(Project, Project.id == ProgressReport.project_id)
            .where(
                ProgressReport.state.in_(OPEN_STATES),
                ProgressReport.due_on <= today + timedelta(days=REPORT_WEEK_BEFORE),
            )
            .order_by(ProgressReport.due_on, ProgressReport.id)
        )
    )
    teams: dict[int, list[User]] = defaultdict(list)
    project_ids = {project.id for _, project in rows}
    if project_ids:
        for membership, person in db.session.execute(
            sa.select(TeamMembership, User)
            .join(User, User.id == TeamMembership.user_id)
            .where(TeamMembership.project_id.in_(project_ids))
            .order_by(TeamMembership.role, User.name)
        ):
            teams[membership.project_id].append(person)
    sent = 0
    staff: list[User] | None = None
    for report, project in rows:
        found = report_occasion(report.due_on, today)
        if found is None:
            continue
        occasion, said = found
        what = "final report" if report.is_final else "report"
        path = f"/projects/{project.id}/reports/{report.id}"
        for person in teams[project.id]:
            sent += remind(
                person,
                "report_reminder",
                key=f"report:{report.id}",
                occasion=occasion,
                subject=f"The {what} for '{project.title}' is {said}",
                body=f"The {what} for '{project.title}' is {said} (due {local_date(report.due_on)}).",
                url_path=path,
            )
        if (today - report.due_on).days >= STAFF_OVERDUE_DAYS:
            staff = _staff() if staff is None else staff
            for person in staff:
                sent += remind(
                    person,
                    "report_reminder",
                    key=f"report:{report.id}",
                    occasion=f"overdue-{STAFF_OVERDUE_DAYS}-days",
                    subject=f"The {what} for '{project.title}' is {STAFF_OVERDUE_DAYS} days overdue",
                    body=f"The {what} for '{project.title}' was due on {local_date(report.due_on)} and has "
                    "not been sent. You may want to contact the team.",
                    url_path=path,
                )
    return f"Sent {sent} report reminders."


# --- reviews -----------------------------------------------------------------------------------


@job("review-reminders", "Remind reviewers before the panel's deadline", daily_at=time(8, 0))
def review_reminders(now: datetime) -> str:
    today = now.astimezone(LONDON).date()
    panels = list(
        db.session.scalars(
            sa.select(Phase).where(
                Phase.state == PhaseState.ASSESSING,
                Phase.reviews_close_on.is_not(None),
                Phase.reviews_close_on >= today,
                Phase.reviews_close_on <= today + timedelta(days=REVIEW_DAYS_BEFORE),
            )
        )
    )
    sent = 0
    for phase in panels:
        assert phase.reviews_close_on is not None
        sent_review = (
            sa.select(Review.id)
            .where(
                Review.application_id == Application.id,
                Review.reviewer_id == ReviewerAssignment.reviewer_id,
                Review.state.in_([ReviewState.SUBMITTED, ReviewState.CONFLICT]),
            )
            .exists()
        )
        # An assignment names one application, or (application_id empty) every application in the round.
        outstanding = db.session.execute(
            sa.select(User, sa.func.count(Application.id))
            .select_from(ReviewerAssignment)
            .join(User, User.id == ReviewerAssignment.reviewer_id)
            .join(
                Application,
                sa.and_(
                    Application.phase_id == ReviewerAssignment.phase_id,
                    sa.or_(
                        ReviewerAssignment.application_id.is_(None),
                        ReviewerAssignment.application_id == Application.id,
                    ),
                ),
            )
            .where(
                ReviewerAssignment.phase_id == phase.id,
                Application.state == ApplicationState.UNDER_REVIEW,
                ~sent_review,
            )
            .group_by(User.id)
            .order_by(User.id)
        )
        for reviewer, count in outstanding:
            plural = "s" if count != 1 else ""
            sent += remind(
                reviewer,
                "review_reminder",
                key=f"phase:{phase.id}",
                occasion=f"reviews-close-{phase.reviews_close_on.isoformat()}",
                subject=f"{count} review{plural} for '{phase.name}' not sent: the panel's deadline is "
                f"{local_date(phase.reviews_close_on)}",
                body=f"You have {count} review{plural} for '{phase.name}' still to send. Reviews close at the "
                f"end of {local_date(phase.reviews_close_on)}.",
                url_path="/reviews",
            )
    return f"Sent {sent} review reminders."


# --- invitations -------------------------------------------------------------------------------


@job("invitation-reminders", "Remind people of invitations they have not answered", daily_at=time(9, 0))
def invitation_reminders(now: datetime) -> str:
    """Once, a week after it was sent, for an invitation still waiting and not expired."""
    sent = 0
    waiting = db.session.execute(
        invitations.pending_query(now).where(Invitation.created_at <= now - timedelta(days=INVITATION_DAYS))
    )
    for invitation, application, project in waiting:
        team = invitations.Team(application, project)
        subject = f"You are invited to join the team for {team.name}"
        answer_by = f"You can answer until {local_date(invitation.expires_at)}."
        person = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == invitation.email.lower()))
        if person is not None:
            sent += remind(
                person,
                "invitation_reminder",
                key=f"invitation:{invitation.id}",
                occasion="not-answered-7-days",
                subject=subject,
                body=f"A week ago you were invited to join the team for {team.name}. Open it to accept or "
                f"decline. {answer_by}",
                url_path=f"/invitations/{invitation.id}",
            )
        else:
            sent += remind_address(
                invitation.email,
                "invitation_reminder",
                key=f"invitation:{invitation.id}",
                recipient_key=f"invitation:{invitation.id}",
                occasion="not-answered-7-days",
                subject=subject,
                body=f"Hello,\n\nA week ago you were invited to join the team for {team.name} in the "
                "Co-Production Portal. To answer, create an account with this email address, confirm it with "
                f"the link we send you, then open the invitation:\n{current_app.config['BASE_URL'].rstrip('/')}/invitations/{invitation.id}\n\n"
                f"{answer_by}\n",
            )
    return f"Sent {sent} invitation reminders."
