"""Phases: the public list and page; staff making, changing and moving them; and the panel's
side-by-side list of a phase's applications."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.core.permissions import can, permission_required, public
from portal.core.web import redirect_to, render
from portal.grants import applications, bp, phases, reviews
from portal.grants.forms import ActionForm, PanelFilterForm, PhaseForm, PhaseStateForm, attach_problems
from portal.grants.models import PHASE_TRANSITIONS, Phase, PhaseState


def _page_number() -> int:
    return request.args.get("page", 1, type=int) or 1


def _paginate(query: Any) -> Any:
    return db.paginate(query, page=_page_number(), per_page=current_app.config["PAGE_SIZE"], error_out=False)


def _phase_or_404(phase_id: int) -> Phase:
    return db.get_or_404(Phase, phase_id)


def next_state(phase: Phase) -> PhaseState | None:
    return next(iter(PHASE_TRANSITIONS[phase.state]), None)


# --- public ----------------------------------------------------------------------------------


@bp.route("/phases")
@public
def phase_list() -> Response:
    return render(
        "grants/phases.html", block="results", page=_paginate(phases.public_phases_query()), title="Funding rounds"
    )


def _phase_page(phase: Phase, *, status: int = 200, problem: str = "") -> Response:
    own = applications.own_application_in(phase, current_user) if current_user.is_authenticated else None
    return render(
        "grants/phase.html",
        status=status,
        phase=phase,
        criteria=phases.criteria_of(phase.id),
        own=own,
        today=london_today(),
        start_form=ActionForm(formdata=None),
        problem=problem,
        title=phase.name,
    )


@bp.route("/phases/<int:phase_id>")
@public
def phase(phase_id: int) -> Response:
    phase = _phase_or_404(phase_id)
    if phase.state == PhaseState.DRAFT and not can(current_user, "phases.manage"):
        abort(404)  # a draft is the staff's work in progress: it does not exist for anyone else yet
    return _phase_page(phase)


@bp.route("/phases/<int:phase_id>/apply", methods=["POST"])
@permission_required("applications.start")
def start_application(phase_id: int) -> Response:
    phase = _phase_or_404(phase_id)
    if phase.state == PhaseState.DRAFT:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        application = applications.start_application(phase, by=current_user, today=london_today())
    except RuleBroken as error:
        db.session.rollback()
        return _phase_page(_phase_or_404(phase_id), status=422, problem=error.message)
    db.session.commit()
    flash("Your application is started. Save it as often as you like; nothing is sent until you submit it.", "success")
    return redirect_to(url_for("grants.edit_application", application_id=application.id))


# --- staff: phases ----------------------------------------------------------------------------------


def _staff_list(*, status: int = 200, problem: str = "", problem_phase: int | None = None) -> Response:
    page = _paginate(phases.staff_phases_query())
    return render(
        "grants/staff_phases.html",
        status=status,
        page=page,
        next_state=next_state,
        counts=phases.application_counts([p.id for p in page.items]),
        state_form=PhaseStateForm(formdata=None),
        problem=problem,
        problem_phase=problem_phase,
        title="Manage funding rounds",
    )


@bp.route("/staff/phases")
@permission_required("phases.manage")
def staff_phases() -> Response:
    return _staff_list()


def _form_page(form: PhaseForm, phase: Phase | None, *, status: int) -> Response:
    criteria = phases.criteria_of(phase.id) if phase else []
    editable = phase is None or phase.state in phases.EDITABLE_STATES
    criteria_editable = phase is None or phase.state == PhaseState.DRAFT
    return render(
        "grants/phase_form.html",
        status=status,
        form=form,
        phase=phase,
        criteria=criteria,
        editable=editable,
        criteria_editable=criteria_editable,
        title=f"Change {phase.name}" if phase else "New funding round",
    )


@bp.route("/staff/phases/new", methods=["GET", "POST"])
@permission_required("phases.manage")
def new_phase() -> Response:
    form = PhaseForm()
    if form.validate_on_submit():
        try:
            phase = phases.create_phase(form.details(), by=current_user)
        except RuleBroken as error:
            db.session.rollback()
            attach_problems(form, error)
        else:
            db.session.commit()
            flash(f"{phase.name} is saved as a draft. Only staff can see it until you open it.", "success")
            return redirect_to(url_for("grants.staff_phases"))
    return _form_page(form, None, status=422 if request.method == "POST" else 200)


@bp.route("/staff/phases/<int:phase_id>/edit", methods=["GET", "POST"])
@permission_required("phases.manage")
def edit_phase(phase_id: int) -> Response:
    phase = _phase_or_404(phase_id)
    form = PhaseForm(data=PhaseForm.data_from(phase, phases.criteria_of(phase.id)) if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            phases.update_phase(phase, form.details(), by=current_user)
        except RuleBroken as error:
            db.session.rollback()
            attach_problems(form, error)
            phase = _phase_or_404(phase_id)
        else:
            db.session.commit()
            flash(f"Your changes to {phase.name} are saved.", "success")
            return redirect_to(url_for("grants.staff_phases"))
    return _form_page(form, phase, status=422 if request.method == "POST" else 200)


@bp.route("/staff/phases/<int:phase_id>/state", methods=["POST"])
@permission_required("phases.manage")
def move_phase(phase_id: int) -> Response:
    phase = _phase_or_404(phase_id)
    form = PhaseStateForm()
    if not form.validate_on_submit():
        return _staff_list(status=422, problem="Choose the state to move the phase to.", problem_phase=phase_id)
    try:
        moved = phases.move_phase(phase, PhaseState(form.to.data), by=current_user, today=london_today())
    except RuleBroken as error:
        db.session.rollback()
        return _staff_list(status=422, problem=error.message, problem_phase=phase_id)
    db.session.commit()
    message = f"{phase.name} is now: {phase.state.label.lower()}."
    if moved:
        message += f" {len(moved)} submitted application{'' if len(moved) == 1 else 's'} went to the panel."
    flash(message, "success")
    return redirect_to(url_for("grants.staff_phases"))


# --- staff: the panel's side-by-side list ------------------------------------------------------------------


@bp.route("/staff/phases/<int:phase_id>/applications")
@permission_required("panel.manage")
def panel_applications(phase_id: int) -> Response:
    phase = _phase_or_404(phase_id)
    form = PanelFilterForm(request.args)
    form.validate()
    page = _paginate(reviews.panel_applications_query(phase.id, state=form.chosen_state(), sort=form.chosen_sort()))
    return render(
        "grants/panel_applications.html",
        block="results",
        phase=phase,
        form=form,
        page=page,
        summaries=reviews.panel_summaries(phase.id, page.items),
        criteria=phases.criteria_of(phase.id),
        title=f"Applications to {phase.name}",
    )
