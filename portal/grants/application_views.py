"""Applications: the applicant's pages (write, budget, team, submit, withdraw) and the staff's
decision form. Views parse the form, ask ``permissions``, call the services, commit, and render
or redirect."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, flash, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response

from portal.core.db import utcnow
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.core.permissions import can, permission_required, require
from portal.core.web import is_htmx, redirect_to, render
from portal.grants import access, applications, bp, decisions, phases, reviews
from portal.grants.forms import (
    ActionForm,
    ApplicationForm,
    BudgetLineForm,
    DecisionForm,
    InviteForm,
    WithdrawForm,
    attach_problems,
)
from portal.grants.models import Application, ApplicationState, BudgetCategory, ReviewState

CHANGED_BY_SOMEONE_ELSE = (
    "Someone else on your team changed this application while you were working on it. "
    "Check it below, then make your change again."
)


def _page_number() -> int:
    return request.args.get("page", 1, type=int) or 1


def application_or_404(application_id: int) -> Application:
    application = db.session.scalar(
        sa.select(Application)
        .where(Application.id == application_id)
        .options(joinedload(Application.phase), joinedload(Application.lead))
        .execution_options(populate_existing=True)  # fresh after a rollback
    )
    if application is None:
        abort(404)
    return application


# --- the applicant's list and starting ----------------------------------------------------------------


@bp.route("/applications")
@permission_required("applications.start")
def my_applications() -> Response:
    joined = applications.accept_invitations(current_user)  # invitations sent since they signed in
    if joined:
        db.session.commit()
        flash(f"You have joined {len(joined)} application team{'' if len(joined) == 1 else 's'}.", "success")
    page = db.paginate(
        applications.applications_of(current_user),
        page=_page_number(),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    return render(
        "grants/my_applications.html",
        block="results",
        page=page,
        totals=applications.requested_totals([a.id for a in page.items]),
        title="Your applications",
    )


# --- one application ----------------------------------------------------------------------------------


def application_page(
    application: Application,
    *,
    status: int = 200,
    invite_form: InviteForm | None = None,
    withdraw_form: WithdrawForm | None = None,
) -> Response:
    on_team = access.on_application_team(current_user, application)
    staff = can(current_user, "phases.manage")
    see_reviews = can(current_user, "application.see_all_reviews", application)
    lines = applications.budget_lines(application.id)
    return render(
        "grants/application.html",
        status=status,
        application=application,
        phase=application.phase,
        lines=lines,
        total=sum(line.amount_pence for line in lines),
        team=applications.team_of(application.id),
        on_team=on_team,
        staff=staff,
        invitations=applications.open_invitations(application.id) if on_team or staff else [],
        decision=decisions.decision_of(application.id) if on_team or staff else None,
        criteria=phases.criteria_of(application.phase_id),
        panel_reviews=reviews.reviews_for(application) if see_reviews else [],
        conflicts=reviews.reviews_for(application, states=(ReviewState.CONFLICT,)) if staff else [],
        my_review=reviews.review_of(application.id, current_user.id),
        invite_form=invite_form or InviteForm(formdata=None),
        withdraw_form=withdraw_form or WithdrawForm(formdata=None),
        action_form=ActionForm(formdata=None),
        title=application.title or "Untitled application",
    )


@bp.route("/applications/<int:application_id>")
@permission_required("applications.start")
def application(application_id: int) -> Response:
    application = application_or_404(application_id)
    require("application.view", application)
    return application_page(application)


def _edit_page(
    application: Application,
    *,
    status: int = 200,
    form: ApplicationForm | None = None,
    line_form: BudgetLineForm | None = None,
    problems: list[RuleBroken] | None = None,
    block: str | None = None,
    added: str = "",
) -> Response:
    """The writing page; ``block="budget"`` answers htmx with just the budget section."""
    lines = applications.budget_lines(application.id)
    return render(
        "grants/application_form.html",
        block=block,
        status=status,
        application=application,
        phase=application.phase,
        fragment=bool(block) and is_htmx(),
        added=added,
        form=form or ApplicationForm(formdata=None, obj=application),
        line_form=line_form or BudgetLineForm(formdata=None),
        lines=lines,
        total=sum(line.amount_pence for line in lines),
        problems=problems or [],
        action_form=ActionForm(formdata=None),
        title=f"Write your application: {application.title or 'untitled'}",
    )


@bp.route("/applications/<int:application_id>/edit", methods=["GET", "POST"])
@permission_required("applications.start")
def edit_application(application_id: int) -> Response:
    application = application_or_404(application_id)
    require("application.edit", application)
    form = ApplicationForm(obj=application if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            applications.update_application(application, form.details(), by=current_user)
            db.session.commit()
        except RuleBroken as error:
            db.session.rollback()
            attach_problems(form, error)
            application = application_or_404(application_id)
        except StaleDataError:
            db.session.rollback()
            flash(CHANGED_BY_SOMEONE_ELSE, "error")
            return redirect_to(url_for("grants.edit_application", application_id=application_id))
        else:
            flash("Your draft is saved.", "success")
            return redirect_to(url_for("grants.edit_application", application_id=application_id))
    return _edit_page(application, status=422 if request.method == "POST" else 200, form=form)


@bp.route("/applications/<int:application_id>/budget-lines", methods=["POST"])
@permission_required("applications.start")
def add_budget_line(application_id: int) -> Response:
    application = application_or_404(application_id)
    require("application.edit", application)
    form = BudgetLineForm()
    if form.validate_on_submit():
        try:
            applications.add_budget_line(
                application,
                by=current_user,
                category=BudgetCategory(form.category.data),
                description=form.description.data or "",
                amount_pence=form.amount.pence,
            )
        except RuleBroken as error:
            db.session.rollback()
            attach_problems(form, error)
        else:
            db.session.commit()
            if is_htmx():  # the budget section alone, with the new line, the new total and an empty form
                return _edit_page(
                    application_or_404(application_id),
                    block="budget",
                    added=f"Added: {form.description.data}. The total is updated.",
                )
            flash("The budget line is added.", "success")
            return redirect_to(url_for("grants.edit_application", application_id=application_id) + "#budget")
    # htmx gets the budget section with the messages as a 200: htmx reports a 4xx as an error.
    return _edit_page(
        application_or_404(application_id), status=200 if is_htmx() else 422, line_form=form, block="budget"
    )


@bp.route("/applications/<int:application_id>/budget-lines/<int:line_id>/delete", methods=["POST"])
@permission_required("applications.start")
def remove_budget_line(application_id: int, line_id: int) -> Response:
    application = application_or_404(application_id)
    require("application.edit", application)
    line = next((line for line in applications.budget_lines(application.id) if line.id == line_id), None)
    if line is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    applications.remove_budget_line(application, line, by=current_user)
    db.session.commit()
    flash("The budget line is removed.", "success")
    return redirect_to(url_for("grants.edit_application", application_id=application_id) + "#budget")


@bp.route("/applications/<int:application_id>/submit", methods=["POST"])
@permission_required("applications.start")
def submit_application(application_id: int) -> Response:
    application = application_or_404(application_id)
    require("application.submit", application)
    # "Save and submit" on the writing page sends the words too; the button on the application page does not.
    with_details = "title" in request.form
    form = ApplicationForm() if with_details else ApplicationForm(formdata=None, obj=application)
    if not (form if with_details else ActionForm()).validate_on_submit():
        return _edit_page(application, status=422, form=form)
    try:
        if with_details:
            applications.update_application(application, form.details(), by=current_user)
        applications.submit_application(application, by=current_user, today=london_today(), now=utcnow())
        db.session.commit()
    except RuleBroken as error:
        db.session.rollback()  # nothing changes: the words stay on the page, unsaved
        others = attach_problems(form, error)
        return _edit_page(application_or_404(application_id), status=422, form=form, problems=others)
    except StaleDataError:
        db.session.rollback()
        flash(CHANGED_BY_SOMEONE_ELSE, "error")
        return redirect_to(url_for("grants.edit_application", application_id=application_id))
    flash("Thank you. Your application has been sent. We have emailed you to confirm.", "success")
    return redirect_to(url_for("grants.application", application_id=application_id))


@bp.route("/applications/<int:application_id>/withdraw", methods=["POST"])
@permission_required("applications.start")
def withdraw_application(application_id: int) -> Response:
    application = application_or_404(application_id)
    require("application.withdraw", application)
    form = WithdrawForm()
    if form.validate_on_submit():
        try:
            applications.withdraw_application(application, by=current_user)
            db.session.commit()
        except RuleBroken as error:
            db.session.rollback()
            attach_problems(form, error)
        except StaleDataError:
            db.session.rollback()
            flash(CHANGED_BY_SOMEONE_ELSE, "error")
            return redirect_to(url_for("grants.application", application_id=application_id))
        else:
            flash("Your application is withdrawn.", "success")
            return redirect_to(url_for("grants.application", application_id=application_id))
    return application_page(application_or_404(application_id), status=422, withdraw_form=form)


@bp.route("/applications/<int:application_id>/invite", methods=["POST"])
@permission_required("applications.start")
def invite(application_id: int) -> Response:
    application = application_or_404(application_id)
    require("application.invite", application)
    form = InviteForm()
    if form.validate_on_submit():
        try:
            invitation = applications.invite_member(
                application, by=current_user, email=form.email.data or "", base_url=current_app.config["BASE_URL"]
            )
        except RuleBroken as error:
            db.session.rollback()
            attach_problems(form, error)
        else:
            db.session.commit()
            flash(
                f"We have emailed {invitation.email}. They join the team when they sign in with that address.",
                "success",
            )
            return redirect_to(url_for("grants.application", application_id=application_id) + "#team")
    return application_page(application_or_404(application_id), status=422, invite_form=form)


# --- staff: the panel's decision ---------------------------------------------------------------------------


def _decision_page(application: Application, form: DecisionForm, *, status: int = 200) -> Response:
    phase = application.phase
    awarded = decisions.awarded_total_pence(phase.id)
    return render(
        "grants/decision_form.html",
        status=status,
        application=application,
        phase=phase,
        form=form,
        decision=decisions.decision_of(application.id),
        requested=applications.requested_total_pence(application.id),
        awarded=awarded,
        pot_left=max(phase.pot_pence - awarded, 0),
        summary=reviews.panel_summaries(phase.id, [application])[application.id],
        title=f"Decision: {application.title or 'untitled application'}",
    )


@bp.route("/staff/applications/<int:application_id>/decision", methods=["GET", "POST"])
@permission_required("panel.manage")
def decision(application_id: int) -> Response:
    application = application_or_404(application_id)
    if application.state == ApplicationState.DRAFT:
        abort(404)  # nothing to decide: it was never sent
    defaults = DecisionForm.defaults(london_today(), applications.requested_total_pence(application.id))
    form = DecisionForm(data=defaults if request.method == "GET" else None)
    if form.validate_on_submit():
        outcome = form.chosen_outcome()
        try:
            decisions.record_decision(
                application,
                by=current_user,
                outcome=outcome,
                rationale=form.rationale.data or "",
                now=utcnow(),
                amount_pence=form.amount.pence,
                start_date=form.start_date.data,
            )
            db.session.commit()
        except RuleBroken as error:
            db.session.rollback()
            for problem in attach_problems(form, error):
                attach_problems(form, RuleBroken("outcome", problem.message))
            application = application_or_404(application_id)
        except StaleDataError:
            db.session.rollback()
            flash(
                "This application changed while you were deciding. Check it, then record the decision again.", "error"
            )
            return redirect_to(url_for("grants.decision", application_id=application_id))
        else:
            flash(
                "The decision is recorded and the applicant has been emailed."
                + (" The pilot project has been set up." if outcome.value == "award" else ""),
                "success",
            )
            return redirect_to(url_for("grants.application", application_id=application_id))
    return _decision_page(application, form, status=422 if request.method == "POST" else 200)
