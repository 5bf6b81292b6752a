"""Progress reports: the team drafts and sends them; staff accept them or ask for changes.

A report is made ``due`` by the reporting schedule (``projects.schedule_reports``). Each move
checks who may make it (``portal.permissions``) and the state table below, records an audit
entry and tells the people affected through the outbox, all in the caller's transaction.

Several people write one report, and several staff may decide on it, so every form carries the
version it was opened at (``core.edits``): a save from a page opened before someone else's save
changes nothing and shows both versions (``EditConflict``); a decision from such a page is
refused with who changed the report and when. ``ProgressReport.version`` also makes a second,
simultaneous save or decision fail at commit instead of applying twice. Each save the team makes
is kept as a revision (``core.revisions``) for the report's history page.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager

from portal.accounts.models import User
from portal.core import audit, edits, permissions, revisions, vocabulary
from portal.core.errors import NotAllowed, RuleBroken
from portal.core.extensions import db
from portal.grants.models import ProgressReport, ProjectStatus, ReportState
from portal.grants.projects import tell_team
from portal.teams.models import Project, ProjectState, TeamMembership

# Every allowed move; services refuse anything else. Saving a draft keeps "changes requested"
# (so the staff feedback stays in view) and turns "due" into "draft".
TRANSITIONS: dict[ReportState, set[ReportState]] = {
    ReportState.DUE: {ReportState.DRAFT, ReportState.SUBMITTED},
    ReportState.DRAFT: {ReportState.SUBMITTED},
    ReportState.CHANGES_REQUESTED: {ReportState.SUBMITTED},
    ReportState.SUBMITTED: {ReportState.ACCEPTED, ReportState.CHANGES_REQUESTED},
    ReportState.ACCEPTED: set(),
}

# Reports the team still has to send: these can be due or overdue.
OPEN_STATES = (ReportState.DUE, ReportState.DRAFT, ReportState.CHANGES_REQUESTED)

STATE_LABELS = {
    ReportState.DUE: "Not started",
    ReportState.DRAFT: "Draft",
    ReportState.SUBMITTED: "Sent, waiting for the programme team",
    ReportState.ACCEPTED: "Accepted",
    ReportState.CHANGES_REQUESTED: "Changes asked for",
}

TEXT_FIELDS = {
    "what_happened": "Say what happened in this period.",
    "what_changed": "Say what changed, for people or for the way you work.",
    "what_we_learned": "Say what you learned.",
    "challenges": 'Say what was hard, or write "None" if nothing was.',
}
MAX_TEXT = 10_000

# The report form's labels, for the conflict panel (the history uses ``ProgressReport.__revised__``).
LABELS = {
    "period_start": "First day this report covers",
    "period_end": "Last day this report covers",
    "what_happened": "What happened",
    "what_changed": "What changed",
    "what_we_learned": "What we learned",
    "challenges": "Challenges",
    "stages": "Stages where people with lived experience were involved",
    "values": "Values of co-production put into practice",
    "status": "How the project is going",
}


def state_label(report: ProgressReport) -> str:
    return STATE_LABELS[report.state]


def days_late(report: ProgressReport, today: date) -> int:
    """Whole days since the due date, for a report not yet sent; 0 when it is not late."""
    if report.state not in OPEN_STATES or today <= report.due_on:
        return 0
    return (today - report.due_on).days


def is_overdue(report: ProgressReport, today: date) -> bool:
    return days_late(report, today) > 0


@dataclass(frozen=True)
class ReportContent:
    period_start: date | None = None
    period_end: date | None = None
    what_happened: str = ""
    what_changed: str = ""
    what_we_learned: str = ""
    challenges: str = ""
    stages: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    status: ProjectStatus | None = None


class ReportIncomplete(RuleBroken):
    """Several rules broken at once; ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        first_field, first_message = next(iter(errors.items()))
        super().__init__(first_field, first_message)
        self.errors = errors


def _require(user: User, rule: str, project: Project) -> None:
    if not permissions.can(user, rule, project):
        raise NotAllowed(f"{rule} refused for project {project.id}")


def _project(report: ProgressReport) -> Project:
    return db.session.get_one(Project, report.project_id)


def _shape_errors(content: ReportContent) -> dict[str, str]:
    """Rules that hold for drafts too: known tags, periods in order, text not too long."""
    errors: dict[str, str] = {}
    if content.period_start and content.period_end and content.period_end < content.period_start:
        errors["period_end"] = "The end of the period must be on or after its start."
    for name in TEXT_FIELDS:
        if len(getattr(content, name)) > MAX_TEXT:
            errors[name] = f"Keep this to {MAX_TEXT:,} characters or fewer."
    if any(key not in vocabulary.STAGES for key in content.stages):
        errors["stages"] = "Choose stages from the list."
    if any(key not in vocabulary.VALUES for key in content.values):
        errors["values"] = "Choose values from the list."
    return errors


def _completeness_errors(content: ReportContent) -> dict[str, str]:
    errors: dict[str, str] = {}
    if content.period_start is None:
        errors["period_start"] = "Enter the first day this report covers."
    if content.period_end is None:
        errors["period_end"] = "Enter the last day this report covers."
    for name, message in TEXT_FIELDS.items():
        if not getattr(content, name).strip():
            errors[name] = message
    if content.status is None:
        errors["status"] = "Choose how the project is going: on track, some concerns or at risk."
    return errors


def _writable(report: ProgressReport, content: ReportContent, *, by: User, seen: int | None) -> None:
    """The team may write this report now: on their team, from a page showing the report as it is
    saved (else both versions are shown, and the person's text stays in the form), and not sent."""
    _require(by, "project.report", _project(report))
    _check_fresh(report, content, by=by, seen=seen)
    if report.state not in OPEN_STATES:
        raise RuleBroken("state", "This report has been sent, so it can no longer be changed.")


def _changes(content: ReportContent) -> dict[str, Any]:
    """What the team typed, as the report's attributes hold it."""
    return {
        "period_start": content.period_start,
        "period_end": content.period_end,
        **{name: getattr(content, name).strip() for name in TEXT_FIELDS},
        # Kept in the vocabulary's order, so the same choices always read the same way.
        "stages": [key for key in vocabulary.STAGES if key in content.stages],
        "values": [key for key in vocabulary.VALUES if key in content.values],
        "status": content.status,
    }


def _display(name: str, value: Any) -> str:
    """A value as the conflict panel shows it: stages and values by their names, not their keys."""
    if name == "stages":
        return ", ".join(vocabulary.labels(vocabulary.STAGES, value))
    if name == "values":
        return ", ".join(vocabulary.labels(vocabulary.VALUES, value))
    return edits.shown(value)


def _check_fresh(report: ProgressReport, content: ReportContent, *, by: User, seen: int | None) -> None:
    edits.check_fresh(report, seen, _changes(content), by=by, labels=LABELS, display=_display)


def _write(report: ProgressReport, content: ReportContent, *, by: User, seen: int | None) -> bool:
    """Put what the team typed on the report (unless it changed since version ``seen``); a save
    that changed what it says is kept as a revision. True when the text changed."""
    changed = edits.edit(report, _changes(content), by=by, seen=seen, labels=LABELS, display=_display)
    if report.state == ReportState.DUE:
        report.state = ReportState.DRAFT
        edits.stamp(report, by=by)
    if changed:
        revisions.keep(report, by=by)
    return changed


def save_draft(report: ProgressReport, content: ReportContent, *, by: User, seen: int | None = None) -> bool:
    """Keep what the team has written so far; nothing is required yet. ``seen`` is the version the
    form was opened at (None: not checked). True when anything in the text changed."""
    _writable(report, content, by=by, seen=seen)
    errors = _shape_errors(content)
    if errors:
        raise ReportIncomplete(errors)
    return _write(report, content, by=by, seen=seen)


def submit_report(
    report: ProgressReport, content: ReportContent, *, by: User, now: datetime, seen: int | None = None
) -> None:
    """Send the report to the programme team. Every text field and the status are required;
    if anything is missing nothing changes, and every missing field is named."""
    _writable(report, content, by=by, seen=seen)
    errors = {**_completeness_errors(content), **_shape_errors(content)}
    if errors:
        raise ReportIncomplete(errors)
    assert content.status is not None  # a complete report has one
    _move(report, ReportState.SUBMITTED, by=by)
    edits.edit(report, _changes(content), by=by, seen=None)
    edits.stamp(report, by=by)
    revisions.keep(report, by=by)
    report.submitted_at = now
    audit.record("report.submitted", report, actor=by, after={"state": "submitted", "status": content.status.value})
    project = _project(report)
    tell_team(
        project,
        "report_submitted",
        f"Your progress report for '{project.title}' has been sent",
        f"{by.name} sent the progress report due on {report.due_on:%-d %B %Y}. "
        "The programme team will read it and tell you if anything needs to change.",
    )


def submit_or_keep_draft(
    report: ProgressReport, content: ReportContent, *, by: User, now: datetime, seen: int | None = None
) -> dict[str, str]:
    """Send the report; when it cannot be sent yet, keep what was typed as the draft instead and
    return what stops it being sent (field -> message), for the form to show by each field.

    Nothing typed is lost to a refused send: every answer is saved, except one that could not be
    saved even as a draft (a period that ends before it starts, a text that is too long, an unknown
    tag), which keeps its saved value and stays in the form as typed, with its message."""
    _writable(report, content, by=by, seen=seen)
    errors = {**_completeness_errors(content), **_shape_errors(content)}
    if not errors:
        submit_report(report, content, by=by, now=now, seen=seen)
        return {}
    _write(report, _savable(report, content), by=by, seen=seen)
    return errors


def _savable(report: ProgressReport, content: ReportContent) -> ReportContent:
    """``content`` with each answer a draft cannot hold replaced by the report's saved value."""
    wrong = _shape_errors(content)
    if "period_end" in wrong:
        content = replace(content, period_start=report.period_start, period_end=report.period_end)
    kept: dict[str, Any] = {name: getattr(report, name) for name in TEXT_FIELDS if name in wrong}
    if "stages" in wrong:
        kept["stages"] = list(report.stages)
    if "values" in wrong:
        kept["values"] = list(report.values)
    return replace(content, **kept)


def _move(report: ProgressReport, to: ReportState, *, by: User) -> None:
    if to not in TRANSITIONS[report.state]:
        raise RuleBroken(
            "decision",
            f"A report that is {STATE_LABELS[report.state].lower()} cannot be moved to {STATE_LABELS[to].lower()}.",
        )
    report.state = to


def _fresh_for_decision(report: ProgressReport, seen: int | None, *, by: User) -> None:
    """A decision is made on the report as its decider read it: one taken from a page opened
    before someone else decided (or before the team sent it again) is refused, and says who."""
    if seen is not None and seen != report.version:
        moved = edits.conflict(report, {}, viewer=by)
        raise RuleBroken(
            "decision", f"{moved.message} Nothing was decided: read the report as it is now, then decide again."
        )


def _decided(report: ProgressReport, *, by: User, now: datetime, feedback: str) -> None:
    report.feedback = feedback.strip()
    report.decided_at, report.decided_by_id = now, by.id
    edits.stamp(report, by=by)


def accept_report(
    report: ProgressReport, *, by: User, now: datetime, feedback: str = "", seen: int | None = None
) -> None:
    """Staff accept a sent report (from a page showing version ``seen``; None: not checked).
    Accepting the final report closes the project."""
    project = _project(report)
    _require(by, "project.manage", project)
    _fresh_for_decision(report, seen, by=by)
    _move(report, ReportState.ACCEPTED, by=by)
    _decided(report, by=by, now=now, feedback=feedback)
    audit.record(
        "report.accepted",
        report,
        actor=by,
        before={"state": "submitted"},
        after={"state": "accepted"},
        note=report.feedback[:500],
    )
    closing = report.is_final and project.state == ProjectState.ACTIVE
    if closing:
        project.state = ProjectState.CLOSED
        edits.stamp(project, by=by)
        audit.record(
            "project.closed",
            project,
            actor=by,
            before={"state": "active"},
            after={"state": "closed"},
            note=f"final report {report.id} accepted",
        )
    body = f"The programme team accepted your progress report due on {report.due_on:%-d %B %Y}."
    if report.feedback:
        body += f"\n\nTheir comments:\n\n{report.feedback}"
    if closing:
        body += (
            "\n\nThis was your final report, so the project is now closed. Thank you. You can publish "
            "what you learned on the project's public page."
        )
    tell_team(project, "report_accepted", f"Your report for '{project.title}' was accepted", body)


def request_changes(report: ProgressReport, *, by: User, now: datetime, feedback: str, seen: int | None = None) -> None:
    """Staff send a report back to the team with what needs to change."""
    project = _project(report)
    _require(by, "project.manage", project)
    _fresh_for_decision(report, seen, by=by)
    if not feedback.strip():
        raise RuleBroken("feedback", "Say what needs to change, so the team knows what to do next.")
    _move(report, ReportState.CHANGES_REQUESTED, by=by)
    _decided(report, by=by, now=now, feedback=feedback)
    audit.record(
        "report.changes_requested",
        report,
        actor=by,
        before={"state": "submitted"},
        after={"state": "changes_requested"},
        note=report.feedback[:500],
    )
    tell_team(
        project,
        "report_changes",
        f"Please change your progress report for '{project.title}'",
        f"The programme team asked for changes to your progress report due on {report.due_on:%-d %B %Y}:"
        f"\n\n{report.feedback}\n\nPlease change the report and send it again.",
    )


def set_learning_published(report: ProgressReport, *, published: bool, by: User) -> None:
    """The team chooses whether an accepted report's learning appears on the public pilot page."""
    project = _project(report)
    _require(by, "project.work_on", project)
    if report.state != ReportState.ACCEPTED:
        raise RuleBroken("publish", "Only learning from an accepted report can be published.")
    if published and not report.what_we_learned.strip():
        raise RuleBroken("publish", "This report says nothing about what you learned, so there is nothing to publish.")
    if report.learning_published == published:
        return
    report.learning_published = published
    audit.record(
        "report.learning_published" if published else "report.learning_unpublished",
        report,
        actor=by,
        before={"learning_published": not published},
        after={"learning_published": published},
    )


# --- lists ----------------------------------------------------------------------------------

SHOW_CHOICES = [
    ("", "All reports"),
    ("due", "Due (not late yet)"),
    ("overdue", "Overdue"),
    ("submitted", "Sent, waiting for a decision"),
]


def reports_query(show: str, *, today: date) -> sa.Select[ProgressReport]:
    """Reports for the staff list, with their projects loaded in the same query.

    Due and overdue count only running projects: once a project closes, reports it never
    wrote are no longer chased.
    """
    query = (
        sa.select(ProgressReport)
        .join(Project, Project.id == ProgressReport.project_id)
        .options(contains_eager(ProgressReport.project))
    )
    still_open = sa.and_(ProgressReport.state.in_(OPEN_STATES), Project.state == ProjectState.ACTIVE)
    if show == "due":
        return query.where(still_open, ProgressReport.due_on >= today).order_by(
            ProgressReport.due_on, ProgressReport.id
        )
    if show == "overdue":
        return query.where(still_open, ProgressReport.due_on < today).order_by(ProgressReport.due_on, ProgressReport.id)
    if show == "submitted":
        return query.where(ProgressReport.state == ReportState.SUBMITTED).order_by(
            ProgressReport.submitted_at, ProgressReport.id
        )
    return query.order_by(ProgressReport.due_on.desc(), ProgressReport.id.desc())


def team_reports_due_query(user_id: int, *, since: date) -> sa.Select[ProgressReport]:
    """Reports still to write, due on or after ``since``, on running projects this person is on
    the team of (for their calendar), with their projects loaded in the same query."""
    on_team = sa.exists().where(TeamMembership.project_id == Project.id, TeamMembership.user_id == user_id)
    return (
        sa.select(ProgressReport)
        .join(Project, Project.id == ProgressReport.project_id)
        .options(contains_eager(ProgressReport.project))
        .where(
            ProgressReport.state.in_(OPEN_STATES),
            Project.state == ProjectState.ACTIVE,
            ProgressReport.due_on >= since,
            on_team,
        )
        .order_by(ProgressReport.due_on, ProgressReport.id)
    )


def project_reports(project: Project) -> list[ProgressReport]:
    return list(
        db.session.scalars(
            sa.select(ProgressReport)
            .where(ProgressReport.project_id == project.id)
            .order_by(ProgressReport.due_on, ProgressReport.id)
        )
    )


def report_of(project: Project, report_id: int) -> ProgressReport | None:
    """The report, only if it belongs to this project (another project's id is "not found")."""
    return db.session.scalar(
        sa.select(ProgressReport).where(ProgressReport.id == report_id, ProgressReport.project_id == project.id)
    )
