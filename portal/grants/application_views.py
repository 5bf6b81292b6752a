"""Applications: the applicant's pages (write, budget, team, submit, withdraw) and the staff's
decision form. Views load, check the rule, and ``apply`` the service's change (``core.changes``),
then answer with ``done`` or the page again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import abort, flash, make_response, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from portal.core.changes import Outcome, apply, done
from portal.core.db import utcnow
from portal.core.errors import RuleBroken, RulesBroken
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.core.permissions import can, permission_required, require
from portal.core.web import is_htmx, paginate, redirect_to, render, wants_fragment
from portal.grants import access, applications, autosave, bp, decisions, invitations, phases, reviews
from portal.grants.forms import (
    ActionForm,
    ApplicationForm,
    BudgetLineForm,
    DecisionForm,
    InviteForm,
    WithdrawForm,
    seen_version,
)
from portal.grants.models import Application, ApplicationState, ReviewState

T = TypeVar("T")

CHANGED_BY_SOMEONE_ELSE = (
    "Someone else on your team changed this application while you were working on it. "
    "Check it below, then make your change again."
)


def application_or_404(application_id: int) -> Application:
    application: Application | None = db.session.scalar(
        sa.select(Application)
        .where(Application.id == application_id)
        .options(joinedload(Application.phase), joinedload(Application.lead), joinedload(Application.changed_by))
        .execution_options(populate_existing=True)  # fresh after a rollback
    )
    if application is None:
        abort(404)
    return application


# --- what the grants views share about a change ------------------------------------------------------


def attempt(change: Callable[[], T]) -> Outcome[T]:
    """``apply`` for a change made by a button, whose page shows a refusal its own way: commit, or
    roll back and keep the broken rule in ``outcome.error`` (not put by a field, not flashed)."""
    return apply(None, change, show_errors=False)


def act(form: FlaskForm, change: Callable[[], T]) -> T:
    """An action button's change. Its form is only the CSRF token, so one that does not validate
    is a 400; a broken rule has no form to be shown again with, so it is answered as if the view
    had not caught it (the 422 page with its reason, everything rolled back)."""
    if not form.validate_on_submit():
        abort(400)
    outcome = attempt(change)
    if outcome.error is not None:
        raise outcome.error
    return outcome.result


def unplaced(form: FlaskForm, outcome: Outcome[Any]) -> list[RuleBroken]:
    """A refused change's rules about no field of ``form`` (the application window, the budget, a
    review already sent), for the page's error summary, which links each to its place on the page.
    ``apply`` shows such a rule by the form's first field, so it is taken off there again."""
    if outcome.error is None or outcome.stale:
        return []
    problems = outcome.error.problems if isinstance(outcome.error, RulesBroken) else [outcome.error]
    others = [problem for problem in problems if problem.field not in form._fields]
    if others:
        first = next(iter(form._fields.values()))
        errors = list(first.errors)
        for problem in others:
            errors.remove(problem.message)
        first.errors = errors
    return others


def _start_again(url: str, message: str = CHANGED_BY_SOMEONE_ELSE) -> Response:
    """Someone else saved first: nothing of this change was kept, so say so on a fresh copy."""
    flash(message, "error")
    return redirect_to(url)


# --- the applicant's list and starting ----------------------------------------------------------------


@bp.route("/applications")
@permission_required("applications.start")
def my_applications() -> Response:
    page = paginate(applications.applications_of(current_user))
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
        manage_team=can(current_user, "application.manage_team", application),
        invitations=invitations.of_application(application.id) if on_team or staff else [],
        now=utcnow(),
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
    line_form: BudgetLineForm | ApplicationForm | None = None,
    problems: list[RuleBroken] | None = None,
    block: str | None = None,
    added: str = "",
) -> Response:
    """The writing page: one form for the words and the budget lines. ``block="budget"`` answers
    htmx with just the budget section (which then shows its own error summary and the conflict
    panel: the page's are not sent), with the version the next save must carry."""
    lines = applications.budget_lines(application.id)
    form = form or ApplicationForm(formdata=None, obj=application)
    return render(
        "grants/application_form.html",
        block=block,
        status=status,
        application=application,
        phase=application.phase,
        fragment=bool(block) and wants_fragment(),
        added=added,
        form=form,
        line_form=line_form or form,
        lines=lines,
        total=sum(line.amount_pence for line in lines),
        problems=problems or [],
        action_form=ActionForm(formdata=None),
        title=f"Write your application: {application.title or 'untitled'}",
    )


def _line_id(text: str | None) -> int | None:
    return int(text) if text and text.isascii() and text.isdigit() and len(text) < 10 else None


def _posted_version() -> int | None:
    """The version a button's form was opened at, like ``VersionField`` reads it (None: not sent)."""
    text = request.form.get("version")
    if text is None:
        return None
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else 0


def _save_page(application: Application, form: ApplicationForm, *, action: str) -> bool:
    """The writing page's change: the words, and the line its button adds or removes."""
    remove = _line_id(request.form.get("remove_line"))
    return applications.save_draft(
        application,
        form.details(),
        by=current_user,
        seen=seen_version(form.version),
        new_line=form.new_line() if remove is None else None,
        remove_line_id=remove,
        line_required=action == "add_line",
    )


@bp.route("/applications/<int:application_id>/edit", methods=["GET", "POST"])
@permission_required("applications.start")
def edit_application(application_id: int) -> Response:
    """Save the draft; "Add the line" and each "Remove" are buttons of the same form, so the words
    are saved with them (without JavaScript too). htmx sends the budget buttons for the budget
    section alone."""
    application = application_or_404(application_id)
    require("application.edit", application)
    form = ApplicationForm(obj=application if request.method == "GET" else None)
    action = "remove" if request.form.get("remove_line") else request.form.get("action", "save")
    outcome = apply(form, lambda: _save_page(application, form, action=action))
    here = url_for("grants.edit_application", application_id=application_id)
    budget = action in ("add_line", "remove") and wants_fragment()
    if outcome and budget:  # the budget section, the new total, the new version and an empty line
        added = f"Added: {form.description.data}. The total is updated." if action == "add_line" else "Line removed."
        return _edit_page(application_or_404(application_id), block="budget", added=added)
    if outcome:
        message = {"add_line": "The budget line is added.", "remove": "The budget line is removed."}
        return done(here + ("#budget" if action in message else ""), message.get(action, "Your draft is saved."))
    if outcome.stale:
        return _start_again(here)
    if outcome.error is not None:
        application = application_or_404(application_id)
    status = 422 if request.method == "POST" and not (budget and is_htmx()) else 200
    return _edit_page(application, status=status, form=form, block="budget" if budget else None)


@bp.route("/applications/<int:application_id>/autosave", methods=["POST"])
@permission_required("applications.start")
def autosave_application(application_id: int) -> Response:
    """htmx saves the words while the person types (the same form and the same version check):
    "Saved 14:02", or, when someone else saved first, both versions and nothing overwritten.
    After a conflict the page stops autosaving until the person saves it themselves."""
    application = application_or_404(application_id)
    require("application.edit", application)
    # The words only: a budget line half typed is added by its button, not while typing.
    typed = request.form.copy()
    for name in ApplicationForm.NEW_LINE:
        typed.pop(name, None)
    form = ApplicationForm(formdata=typed)
    if request.form.get("autosave") == "paused":  # after a conflict: nothing saved, the panel stays
        return make_response("", 204)
    outcome = apply(
        form,
        lambda: applications.save_draft(application, form.details(), by=current_user, seen=seen_version(form.version)),
        show_errors=False,
    )
    saved = application_or_404(application_id) if outcome.error is not None else application
    return autosave.reply(outcome, form, saved_version=saved.version, opened_version=seen_version(form.version))


@bp.route("/applications/<int:application_id>/budget-lines", methods=["POST"])
@permission_required("applications.start")
def add_budget_line(application_id: int) -> Response:
    application = application_or_404(application_id)
    require("application.edit", application)
    form = BudgetLineForm()
    outcome = apply(
        form,
        lambda: applications.change_budget(
            application, by=current_user, seen=seen_version(form.version), new_line=form.new_line()
        ),
    )
    if outcome and wants_fragment():  # the budget section alone, with the new line, the new total and an empty form
        added = f"Added: {form.description.data}. The total is updated."
        return _edit_page(application_or_404(application_id), block="budget", added=added)
    if outcome:
        url = url_for("grants.edit_application", application_id=application_id, _anchor="budget")
        return done(url, "The budget line is added.")
    # htmx gets the budget section with the messages as a 200: htmx reports a 4xx as an error.
    return _edit_page(
        application_or_404(application_id), status=200 if is_htmx() else 422, line_form=form, block="budget"
    )


@bp.route("/applications/<int:application_id>/budget-lines/<int:line_id>/delete", methods=["POST"])
@permission_required("applications.start")
def remove_budget_line(application_id: int, line_id: int) -> Response:
    application = application_or_404(application_id)
    require("application.edit", application)
    if not any(line.id == line_id for line in applications.budget_lines(application.id)):
        abort(404)
    seen = _posted_version()
    act(
        ActionForm(),
        lambda: applications.change_budget(application, by=current_user, seen=seen, remove_line_id=line_id),
    )
    url = url_for("grants.edit_application", application_id=application_id, _anchor="budget")
    return done(url, "The budget line is removed.")


def _saved_as(form: ApplicationForm, application: Application) -> None:
    """The page after its draft was saved: at the saved version, and the new line (now in the
    budget) emptied, so saving the page again neither conflicts with itself nor adds it twice."""
    form["version"].data = application.version
    form["version"].raw_data = [str(application.version)]
    for name in ("category", "description", "amount"):
        form[name].data = ""
        form[name].raw_data = []


def _submit(application: Application, form: ApplicationForm | None) -> None:
    """Send the application as it is saved (the writing page saved its words first)."""
    applications.submit_application(application, by=current_user, today=london_today(), now=utcnow())


@bp.route("/applications/<int:application_id>/submit", methods=["POST"])
@permission_required("applications.start")
def submit_application(application_id: int) -> Response:
    """ "Save and submit" on the writing page saves the draft first, and only then checks it can be
    sent: a refused submit keeps everything typed, saved, with the reasons by the fields. The button
    on the application page sends only the CSRF token."""
    application = application_or_404(application_id)
    require("application.submit", application)
    with_details = "title" in request.form
    form = ApplicationForm() if with_details else ApplicationForm(formdata=None, obj=application)
    if not (form if with_details else ActionForm()).validate_on_submit():
        return _edit_page(application, status=422, form=form)
    edit_url = url_for("grants.edit_application", application_id=application_id)
    if with_details:
        saved = apply(form, lambda: _save_page(application, form, action="submit"), validate=False)
        if saved.stale:
            return _start_again(edit_url)
        if not saved:
            return _edit_page(application_or_404(application_id), status=422, form=form)
        application = application_or_404(application_id)
        _saved_as(form, application)
    outcome = apply(form, lambda: _submit(application, form), validate=False)
    if outcome:
        url = url_for("grants.application", application_id=application_id)
        return done(url, "Thank you. Your application has been sent. We have emailed you to confirm.")
    if outcome.stale:
        return _start_again(edit_url)
    others = unplaced(form, outcome)
    if with_details:
        flash("Your draft is saved, but it cannot be sent yet. Check the messages below.", "info")
    return _edit_page(application_or_404(application_id), status=422, form=form, problems=others)


@bp.route("/applications/<int:application_id>/withdraw", methods=["POST"])
@permission_required("applications.start")
def withdraw_application(application_id: int) -> Response:
    application = application_or_404(application_id)
    require("application.withdraw", application)
    form = WithdrawForm()
    outcome = apply(form, lambda: applications.withdraw_application(application, by=current_user))
    here = url_for("grants.application", application_id=application_id)
    if outcome:
        return done(here, "Your application is withdrawn.")
    if outcome.stale:
        return _start_again(here)
    return application_page(application_or_404(application_id), status=422, withdraw_form=form)


# --- staff: the panel's decision ---------------------------------------------------------------------------


@bp.app_template_global("phase_takes_decisions")
def phase_takes_decisions(phase: Any) -> bool:
    """For templates: whether to offer the panel's decision on this phase's applications."""
    return decisions.can_decide(phase)


def _decision_page(application: Application, form: DecisionForm, *, status: int = 200) -> Response:
    phase = application.phase
    awarded = decisions.awarded_total_pence(phase.id)
    form.backdate_reason.description = (
        f"To record an award made earlier, a project can start up to {decisions.backdate_days()} days ago. "
        "Say why, like \u201cRecording an award the panel made in June\u201d."
    )
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
        deciding=decisions.can_decide(phase),
        not_deciding=decisions.NOT_DECIDING,
        title=f"Decision: {application.title or 'untitled application'}",
    )


def _record_decision(application: Application, form: DecisionForm) -> bool:
    """Record the panel's decision; true when it is an award (a pilot project is set up)."""
    chosen = form.chosen_outcome()
    decisions.record_decision(
        application,
        by=current_user,
        outcome=chosen,
        rationale=form.rationale.data or "",
        now=utcnow(),
        amount_pence=form.amount.pence,
        start_date=form.start_date.data,
        backdate_reason=form.backdate_reason.data or "",
    )
    return chosen.value == "award"


@bp.route("/staff/applications/<int:application_id>/decision", methods=["GET", "POST"])
@permission_required("panel.manage")
def decision(application_id: int) -> Response:
    application = application_or_404(application_id)
    if application.state == ApplicationState.DRAFT:
        abort(404)  # nothing to decide: it was never sent
    defaults = DecisionForm.defaults(london_today(), applications.requested_total_pence(application.id))
    form = DecisionForm(data=defaults if request.method == "GET" else None)
    # A rule about no field of the form (the pot, the state) is shown by the outcome, its first field.
    outcome = apply(form, lambda: _record_decision(application, form))
    if outcome:
        awarded = " The pilot project has been set up." if outcome.result else ""
        url = url_for("grants.application", application_id=application_id)
        return done(url, "The decision is recorded and the applicant has been emailed." + awarded)
    if outcome.stale:
        again = "This application changed while you were deciding. Check it, then record the decision again."
        return _start_again(url_for("grants.decision", application_id=application_id), again)
    if outcome.error is not None:
        application = application_or_404(application_id)
    return _decision_page(application, form, status=422 if request.method == "POST" else 200)
