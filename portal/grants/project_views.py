"""Routes for pilot projects and their progress reports, the staff grants dashboard and
report list, the CSV exports, and the public pilot pages.

Views load, check the rule, and ``apply`` the service's change (``core.changes``), then answer
with ``done`` or the page again. A project or report that does not exist is 404; one the person
may not see is 403.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from portal.core import vocabulary
from portal.core.changes import apply, done, refused
from portal.core.csv_export import csv_response
from portal.core.errors import RuleBroken, RulesBroken
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.core.forms import attach_error, given
from portal.core.permissions import can, permission_required, public, require
from portal.core.web import is_htmx, paginate, redirect_to, render, wants_fragment
from portal.grants import bp, dashboards, exports, invitations, projects, reports, signals
from portal.grants.application_views import act, attempt
from portal.grants.forms import InviteForm
from portal.grants.models import Milestone, ProgressReport, ProjectExpense
from portal.grants.project_forms import (
    CUSTOM_DATE_INPUTS,
    DatesForm,
    DecisionForm,
    ExpenseForm,
    MilestoneDoneForm,
    MilestoneEditForm,
    MilestoneForm,
    PublishForm,
    RemoveForm,
    ReportFilterForm,
    ReportForm,
    ScheduleForm,
    seen,
)
from portal.teams import management
from portal.teams.models import Project, ProjectState, ReportingSchedule


def _now() -> datetime:
    return datetime.now(UTC)


def project_or_404(project_id: int) -> Project:
    project: Project | None = db.session.scalar(
        sa.select(Project).options(joinedload(Project.phase)).where(Project.id == project_id)
    )
    if project is None:
        abort(404)
    return project


def _report_or_404(project: Project, report_id: int) -> ProgressReport:
    report = reports.report_of(project, report_id)
    if report is None:
        abort(404)
    return report


def _to_project(project_id: int, anchor: str, message: str) -> Response:
    return done(url_for("grants.project", project_id=project_id, _anchor=anchor), message)


# --- your projects and the project page -----------------------------------------------------


@bp.route("/projects", endpoint="projects_mine")
@permission_required("projects.mine")
def projects_mine() -> Response:
    page = paginate(dashboards.my_projects_query(current_user.id))
    figures = dashboards.project_figures([p.id for p in page.items], today=london_today())
    return render("grants/projects/mine.html", block="results", page=page, figures=figures, title="Your projects")


def _schedule_form(project: Project) -> ScheduleForm:
    chosen = []
    if project.reporting_schedule == ReportingSchedule.CUSTOM:
        chosen = list(
            db.session.scalars(
                sa.select(ProgressReport.due_on)
                .where(ProgressReport.project_id == project.id, ProgressReport.is_final.is_(False))
                .order_by(ProgressReport.due_on)
            )
        )[:CUSTOM_DATE_INPUTS]
    kind = project.reporting_schedule.value if project.reporting_schedule else ""
    return ScheduleForm(formdata=None, kind=kind, custom_dates=chosen, version=project.version)


def _milestones(project: Project) -> list[Milestone]:
    return list(
        db.session.scalars(
            sa.select(Milestone).where(Milestone.project_id == project.id).order_by(Milestone.due_on, Milestone.id)
        )
    )


def project_page(project: Project, status: int = 200, **forms: FlaskForm) -> Response:
    manage_team = can(current_user, "project.manage_team", project)
    milestones = _milestones(project)
    expenses = db.session.scalars(
        sa.select(ProjectExpense)
        .where(ProjectExpense.project_id == project.id)
        .order_by(ProjectExpense.spent_on.desc(), ProjectExpense.id.desc())
    ).all()
    return render(
        "grants/projects/project.html",
        status=status,
        project=project,
        team=management.members(project),
        manage_team=manage_team,
        invitations=invitations.of_project(project.id) if manage_team else [],
        invite_form=forms.get("invite_form") or InviteForm(formdata=None),
        now=_now(),
        milestones=milestones,
        expenses=expenses,
        project_reports=reports.project_reports(project),
        budget=projects.budget(project),
        today=london_today(),
        days_late=reports.days_late,
        state_label=reports.state_label,
        is_team=can(current_user, "project.report", project),
        is_staff=can(current_user, "project.manage", project),
        dates_form=forms.get("dates_form")
        or DatesForm(formdata=None, start_date=project.start_date, end_date=project.end_date, version=project.version),
        schedule_form=forms.get("schedule_form") or _schedule_form(project),
        milestone_form=forms.get("milestone_form") or MilestoneForm(formdata=None),
        expense_form=forms.get("expense_form") or ExpenseForm(formdata=None),
        done_form=MilestoneDoneForm(formdata=None),
        remove_form=RemoveForm(formdata=None),
        title=project.title,
    )


@bp.route("/projects/<int:project_id>", endpoint="project")
@permission_required("projects.mine")
def show_project(project_id: int) -> Response:
    project = project_or_404(project_id)
    require("project.view", project)
    return project_page(project)


def _change_onproject_page(
    project_id: int, form: FlaskForm, change: Callable[[], object], *, anchor: str, message: str, form_name: str
) -> Response:
    """One of the project page's forms: apply its change and go back to its section, or show the
    page again (422) with the form, named ``form_name`` there, and its messages."""
    outcome = apply(form, change)
    if outcome:
        return _to_project(project_id, anchor, message)
    return project_page(project_or_404(project_id), status=422, **{form_name: form})


@bp.route("/projects/<int:project_id>/dates", methods=["POST"], endpoint="project_dates")
@permission_required("project.manage")
def change_dates(project_id: int) -> Response:
    project = project_or_404(project_id)
    require("project.manage", project)
    form = DatesForm()
    return _change_onproject_page(
        project_id,
        form,
        lambda: projects.change_dates(
            project,
            start_date=form.start_date.data,
            end_date=form.end_date.data,
            by=current_user,
            seen=seen(form.version),
        ),
        anchor="dates",
        message="The project's dates are changed and its report due dates worked out again.",
        form_name="dates_form",
    )


def _set_schedule(project: Project, form: ScheduleForm) -> None:
    kind = ReportingSchedule(form.kind.data)
    custom = form.chosen_dates() if kind == ReportingSchedule.CUSTOM else None
    projects.set_schedule(project, kind, by=current_user, custom=custom, seen=seen(form.version))


@bp.route("/projects/<int:project_id>/schedule", methods=["POST"], endpoint="project_schedule")
@permission_required("project.manage")
def set_schedule(project_id: int) -> Response:
    project = project_or_404(project_id)
    require("project.manage", project)
    form = ScheduleForm()
    outcome = apply(form, lambda: _set_schedule(project, form))
    if outcome:
        return _to_project(
            project_id, "reports", "The reporting schedule is set. The team has been told the due dates."
        )
    if outcome.error is not None and outcome.error.field == "custom_dates":
        # apply put the message on the list of dates; the page shows it by the first date.
        first = form.custom_dates.entries[0]
        first.errors, form.custom_dates.errors = [*first.errors, *form.custom_dates.errors], []
    return project_page(project_or_404(project_id), status=422, schedule_form=form)


@bp.route("/projects/<int:project_id>/milestones", methods=["POST"], endpoint="project_milestone_add")
@permission_required("projects.mine")
def add_milestone(project_id: int) -> Response:
    project = project_or_404(project_id)
    require("project.report", project)
    form = MilestoneForm()
    return _change_onproject_page(
        project_id,
        form,
        lambda: projects.add_milestone(project, title=given(form.title.data), due_on=form.due_on.data, by=current_user),
        anchor="milestones",
        message="Milestone added.",
        form_name="milestone_form",
    )


def _milestone_or_404(project: Project, milestone_id: int) -> Milestone:
    milestone = db.session.scalar(
        sa.select(Milestone).where(Milestone.id == milestone_id, Milestone.project_id == project.id)
    )
    if milestone is None:
        abort(404)
    return milestone


def _milestones_fragment(project: Project, *, conflict: Any = None) -> Response:
    """What is inside the milestones section: the rows and the count of those done (and, after a
    refused stale click, who changed the milestone first)."""
    return render(
        "grants/projects/_milestones_body.html",
        project=project,
        milestones=_milestones(project),
        is_team=True,
        today=london_today(),
        done_form=MilestoneDoneForm(formdata=None),
        milestone_form=MilestoneForm(formdata=None),
        conflict=conflict,
    )


@bp.route(
    "/projects/<int:project_id>/milestones/<int:milestone_id>/done", methods=["POST"], endpoint="project_milestone_mark"
)
@permission_required("projects.mine")
def mark_milestone(project_id: int, milestone_id: int) -> Response:
    project = project_or_404(project_id)
    require("project.report", project)
    milestone = _milestone_or_404(project, milestone_id)
    form = MilestoneDoneForm()
    if not form.validate_on_submit() or form.done.data not in ("0", "1"):
        abort(400)
    done_now = form.done.data == "1"
    outcome = attempt(
        lambda: projects.mark_milestone(
            project, milestone, done=done_now, by=current_user, today=london_today(), seen=seen(form.version)
        )
    )
    if outcome.conflict is not None:  # someone changed it since the page was opened: show theirs
        if wants_fragment():
            # A 200, which htmx swaps in (it reports a 4xx as an error): the rows, and who changed it first.
            return _milestones_fragment(project_or_404(project_id), conflict=outcome.conflict)
        return project_page(project_or_404(project_id), status=422)
    if outcome.error is not None:
        raise outcome.error
    if wants_fragment():
        return _milestones_fragment(project)
    message = f"\u201c{milestone.title}\u201d is marked {'done' if milestone.done_on else 'not done yet'}."
    return _to_project(project_id, "milestones", message)


@bp.route(
    "/projects/<int:project_id>/milestones/<int:milestone_id>/edit",
    methods=["GET", "POST"],
    endpoint="project_milestone_edit",
)
@permission_required("projects.mine")
def edit_milestone(project_id: int, milestone_id: int) -> Response:
    project = project_or_404(project_id)
    require("project.report", project)
    milestone = _milestone_or_404(project, milestone_id)
    form = MilestoneEditForm(obj=milestone) if request.method == "GET" else MilestoneEditForm()
    outcome = apply(
        form,
        lambda: projects.change_milestone(
            project,
            milestone,
            title=form.title.data or "",
            due_on=form.due_on.data,
            by=current_user,
            seen=seen(form.version),
        ),
    )
    if outcome:
        return _to_project(project_id, "milestones", "Milestone saved." if outcome.result else "Nothing was changed.")
    return refused(
        "grants/projects/milestone_form.html",
        form=form,
        project=project,
        milestone=milestone,
        title=f"Change the milestone \u201c{milestone.title}\u201d",
    )


@bp.route("/projects/<int:project_id>/expenses", methods=["POST"], endpoint="project_expense_add")
@permission_required("projects.mine")
def add_expense(project_id: int) -> Response:
    project = project_or_404(project_id)
    require("project.report", project)
    form = ExpenseForm()
    return _change_onproject_page(
        project_id,
        form,
        lambda: projects.add_expense(
            project,
            spent_on=form.spent_on.data,
            category=form.category_value(),
            description=form.description.data or "",
            amount_pence=form.amount.pence,
            by=current_user,
            today=london_today(),
        ),
        anchor="budget",
        message="Spending recorded.",
        form_name="expense_form",
    )


@bp.route(
    "/projects/<int:project_id>/expenses/<int:expense_id>/remove", methods=["POST"], endpoint="project_expense_remove"
)
@permission_required("projects.mine")
def remove_expense(project_id: int, expense_id: int) -> Response:
    project = project_or_404(project_id)
    require("project.report", project)
    expense = db.session.scalar(
        sa.select(ProjectExpense).where(ProjectExpense.id == expense_id, ProjectExpense.project_id == project.id)
    )
    if expense is None:
        abort(404)
    act(RemoveForm(), lambda: projects.remove_expense(project, expense, by=current_user))
    return _to_project(project_id, "budget", "Spending line removed.")


# --- progress reports -----------------------------------------------------------------------


def _report_page(
    project: Project,
    report: ProgressReport,
    status: int = 200,
    decision_form: DecisionForm | None = None,
    publish_error: str = "",
) -> Response:
    if decision_form is None:
        decision_form = DecisionForm(formdata=None, version=report.version)
    return render(
        "grants/projects/report.html",
        status=status,
        project=project,
        report=report,
        days_late=reports.days_late(report, london_today()) if project.state == ProjectState.ACTIVE else 0,
        state_label=reports.state_label(report),
        can_write=can(current_user, "project.report", project),
        can_decide=can(current_user, "project.manage", project),
        can_see_history=can(current_user, "report.history", project),
        can_publish=can(current_user, "project.work_on", project),
        stage_labels=vocabulary.labels(vocabulary.STAGES, report.stages),
        value_labels=vocabulary.labels(vocabulary.VALUES, report.values),
        decision_form=decision_form,
        publish_form=PublishForm(formdata=None),
        publish_error=publish_error,
        title=f"Progress report due {report.due_on:%-d %B %Y}",
    )


@bp.route("/projects/<int:project_id>/reports/<int:report_id>", endpoint="project_report")
@permission_required("projects.mine")
def show_report(project_id: int, report_id: int) -> Response:
    project = project_or_404(project_id)
    require("project.view", project)
    return _report_page(project, _report_or_404(project, report_id))


def _write_report(report: ProgressReport, form: ReportForm, *, sending: bool) -> dict[str, str]:
    """Save the draft, or send it; returns what stops a report being sent (it was kept as the
    draft instead). A draft that cannot be saved has its messages each by its own field."""
    try:
        if sending:
            return reports.submit_or_keep_draft(
                report, form.content(), by=current_user, now=_now(), seen=seen(form.version)
            )
        reports.save_draft(report, form.content(), by=current_user, seen=seen(form.version))
        return {}
    except reports.ReportIncomplete as error:
        raise RulesBroken([RuleBroken(field, message) for field, message in error.errors.items()]) from error


def _report_form(project: Project, report: ProgressReport, form: ReportForm) -> Response:
    """The form again (422 after a POST), with its messages; to htmx a 200, which it swaps in
    (it reports a 4xx as an error)."""
    status = 422 if request.method == "POST" and not is_htmx() else 200
    return render(
        "grants/projects/report_form.html",
        status=status,
        form=form,
        project=project,
        report=report,
        state_label=reports.state_label(report),
        can_see_history=can(current_user, "report.history", project),
        title=f"Write the report due {report.due_on:%-d %B %Y}",
    )


def _kept_as_draft(report: ProgressReport, form: ReportForm, problems: dict[str, str]) -> None:
    """A send that was refused but saved as the draft: each problem by its field, and the form now
    at the saved version, so the next save or send is not refused as if someone else saved."""
    for field, message in problems.items():
        attach_error(form, field, message)
    form.version.data = str(report.version)
    form.version.raw_data = [str(report.version)]
    flash(
        "Your report is not sent yet. What you wrote is saved as a draft. "
        "Fill in the boxes marked below, then send it.",
        "warning",
    )


@bp.route(
    "/projects/<int:project_id>/reports/<int:report_id>/edit", methods=["GET", "POST"], endpoint="project_report_edit"
)
@permission_required("projects.mine")
def edit_report(project_id: int, report_id: int) -> Response:
    project = project_or_404(project_id)
    require("project.report", project)
    report = _report_or_404(project, report_id)
    if request.method == "GET" and report.state not in reports.OPEN_STATES:
        flash("This report has been sent, so it can no longer be changed.", "info")
        return redirect_to(url_for("grants.project_report", project_id=project.id, report_id=report.id))
    form = ReportForm(obj=report) if request.method == "GET" else ReportForm()
    sending = request.form.get("action") == "submit"
    outcome = apply(form, lambda: _write_report(report, form, sending=sending))
    if outcome and outcome.result:
        _kept_as_draft(report, form, outcome.result)
        return _report_form(project, report, form)
    if outcome and sending:
        url = url_for("grants.project_report", project_id=project_id, report_id=report_id)
        return done(url, "Your report is sent. The programme team will read it and let you know.")
    if outcome:
        url = url_for("grants.project_report_edit", project_id=project_id, report_id=report_id)
        return done(url, "Your draft is saved. Nobody else sees it until you send it.")
    return _report_form(project, report, form)


def _decide(report: ProgressReport, form: DecisionForm) -> None:
    feedback, version = form.feedback.data or "", seen(form.version)
    if form.decision.data == "accept":
        reports.accept_report(report, by=current_user, now=_now(), feedback=feedback, seen=version)
    else:
        reports.request_changes(report, by=current_user, now=_now(), feedback=feedback, seen=version)


DECIDED_AT_ONCE = (
    "Someone else decided on this report at the same moment, so your decision was not recorded. "
    "Read the report as it is now, below."
)


@bp.route(
    "/projects/<int:project_id>/reports/<int:report_id>/decision", methods=["POST"], endpoint="project_report_decide"
)
@permission_required("project.manage")
def decide_report(project_id: int, report_id: int) -> Response:
    project = project_or_404(project_id)
    require("project.manage", project)
    report = _report_or_404(project, report_id)
    form = DecisionForm()
    outcome = apply(form, lambda: _decide(report, form), stale_message=DECIDED_AT_ONCE)
    if not outcome:
        # The page shows the report as it is now; a decision from it is about this version.
        form.version.data = str(report.version)
        form.version.raw_data = [str(report.version)]
        return _report_page(project, report, status=422, decision_form=form)
    if report.state == "accepted":
        closed = " This was the final report, so the project is now closed." if report.is_final else ""
        message = "The report is accepted. The team has been told." + closed
    else:
        message = "The report is sent back to the team with your feedback."
    return done(url_for("grants.project_report", project_id=project_id, report_id=report_id), message)


def _publish(report: ProgressReport, *, published: bool) -> Any:
    """Show or hide the report's learning on the public page; returns the learning post a final
    report's learning is shared as (once), or None."""
    reports.set_learning_published(report, published=published, by=current_user)
    if not (report.learning_published and report.is_final):
        return None
    shared = signals.final_learning_published.send(report, by=current_user)
    return next((made for _, made in shared if made is not None), None)


@bp.route(
    "/projects/<int:project_id>/reports/<int:report_id>/publish", methods=["POST"], endpoint="project_report_publish"
)
@permission_required("projects.mine")
def publish_learning(project_id: int, report_id: int) -> Response:
    project = project_or_404(project_id)
    require("project.work_on", project)
    report = _report_or_404(project, report_id)
    form = PublishForm()
    if not form.validate_on_submit() or form.publish.data not in ("0", "1"):
        abort(400)
    published = form.publish.data == "1"
    outcome = attempt(lambda: _publish(report, published=published))
    if not outcome:
        publish_error = outcome.error.message if outcome.error is not None else ""
        return _report_page(project, report, status=422, publish_error=publish_error)
    if outcome.result is not None:
        message = "Your learning is now on the project's public page and shared as a learning post."
        return done(url_for("learning.post", post_id=outcome.result.id), message)
    message = (
        "Your learning is now on the project's public page."
        if report.learning_published
        else "Your learning is no longer on the public page."
    )
    return done(url_for("grants.project_report", project_id=project_id, report_id=report_id), message)


# --- staff: dashboard, report list, exports -------------------------------------------------


@bp.route("/staff/reports", endpoint="staff_reports")
@permission_required("grants.dashboard")
def staff_reports() -> Response:
    form = ReportFilterForm(request.args)
    show = form.show.data if form.validate() and form.show.data else ""
    today = london_today()
    page = paginate(reports.reports_query(show, today=today))
    return render(
        "grants/dashboards/reports.html",
        block="results",
        form=form,
        page=page,
        show=show,
        today=today,
        days_late=reports.days_late,
        state_label=reports.state_label,
        title="Progress reports",
    )


@bp.route("/staff/grants", endpoint="staff_grants_dashboard")
@permission_required("grants.dashboard")
def staff_dashboard() -> Response:
    today = london_today()
    return render(
        "grants/dashboards/staff.html",
        today=today,
        phases=dashboards.phase_money(),
        counts=dashboards.report_counts(today),
        awaiting=dashboards.awaiting_review_count(),
        at_risk=dashboards.at_risk_page(),
        title="Grants dashboard",
    )


@bp.route("/staff/exports/applications.csv", endpoint="export_applications_csv")
@permission_required("grants.export")
def export_applications() -> Response:
    return csv_response(
        f"applications-{london_today().isoformat()}.csv", exports.APPLICATION_HEADER, exports.application_rows()
    )


@bp.route("/staff/exports/projects.csv", endpoint="export_projects_csv")
@permission_required("grants.export")
def export_projects() -> Response:
    today = london_today()
    return csv_response(f"projects-{today.isoformat()}.csv", exports.PROJECT_HEADER, exports.project_rows(today))


# --- public pilot pages ---------------------------------------------------------------------


@bp.route("/pilots", endpoint="pilots")
@public
def pilots() -> Response:
    return render(
        "grants/public/pilots.html", block="results", page=paginate(dashboards.pilots_query()), title="Pilot projects"
    )


@bp.route("/pilots/<int:project_id>", endpoint="pilot")
@public
def pilot(project_id: int) -> Response:
    project = dashboards.pilot(project_id)
    if project is None:
        abort(404)
    return render(
        "grants/public/pilot.html",
        block="results",
        project=project,
        page=paginate(dashboards.published_learning_query(project)),
        title=project.title,
        stage_labels=lambda keys: vocabulary.labels(vocabulary.STAGES, keys),
        value_labels=lambda keys: vocabulary.labels(vocabulary.VALUES, keys),
    )
