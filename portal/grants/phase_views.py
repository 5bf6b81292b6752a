"""Phases: the public list and page; staff making, changing and moving them; and the panel's
side-by-side list of a phase's applications."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import abort, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.core.changes import apply, done, refused
from portal.core.confirm import confirmed
from portal.core.edits import EditConflict
from portal.core.errors import RuleBroken, RulesBroken
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.core.forms import given
from portal.core.permissions import can, permission_required, public
from portal.core.web import paginate, render
from portal.grants import applications, bp, phases, reviews
from portal.grants.application_views import attempt
from portal.grants.forms import ActionForm, PanelFilterForm, PhaseForm, PhaseStateForm
from portal.grants.models import PHASE_TRANSITIONS, Phase, PhaseState
from portal.grants.phase_confirm import ask_to_move
from portal.grants.project_forms import seen

T = TypeVar("T")


def _phase_or_404(phase_id: int) -> Phase:
    return db.get_or_404(Phase, phase_id)


def next_state(phase: Phase) -> PhaseState | None:
    return next(iter(PHASE_TRANSITIONS[phase.state]), None)


# --- public ----------------------------------------------------------------------------------


@bp.route("/phases")
@public
def phase_list() -> Response:
    return render(
        "grants/phases.html", block="results", page=paginate(phases.public_phases_query()), title="Funding rounds"
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
    outcome = attempt(lambda: applications.start_application(phase, by=current_user, today=london_today()).id)
    if outcome:
        return done(
            url_for("grants.edit_application", application_id=outcome.result),
            "Your application is started. Save it as often as you like; nothing is sent until you submit it.",
        )
    problem = outcome.error.message if outcome.error is not None else ""
    return _phase_page(phase, status=422, problem=problem)


# --- staff: phases ----------------------------------------------------------------------------------


def _staff_list(*, status: int = 200, problem: str = "", problem_phase: int | None = None) -> Response:
    page = paginate(phases.staff_phases_query())
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


def _form_page(form: PhaseForm, phase: Phase | None) -> Response:
    """The phase form: 200 when first shown, 422 with its messages after a refused POST."""
    criteria = phases.criteria_of(phase.id) if phase else []
    editable = phase is None or phase.state in phases.EDITABLE_STATES
    criteria_editable = phase is None or phase.state == PhaseState.DRAFT
    return refused(
        "grants/phase_form.html",
        form=form,
        phase=phase,
        criteria=criteria,
        editable=editable,
        criteria_editable=criteria_editable,
        title=f"Change {phase.name}" if phase else "New funding round",
    )


def _by_the_form(change: Callable[[], T]) -> Callable[[], T]:
    """``change``, with a rule about the criteria as a whole shown by the first criterion's name."""

    def run() -> T:
        try:
            return change()
        except EditConflict:
            raise  # someone saved first: apply shows both versions
        except RuleBroken as error:
            problems = error.problems if isinstance(error, RulesBroken) else [error]
            named = [RuleBroken("criterion_1_name", p.message) if p.field == "criteria" else p for p in problems]
            raise RulesBroken(named) from error

    return run


@bp.route("/staff/phases/new", methods=["GET", "POST"])
@permission_required("phases.manage")
def new_phase() -> Response:
    form = PhaseForm()
    outcome = apply(form, _by_the_form(lambda: phases.create_phase(form.details(), by=current_user)))
    if outcome:
        message = f"{outcome.result.name} is saved as a draft. Only staff can see it until you open it."
        return done(url_for("grants.staff_phases"), message)
    return _form_page(form, None)


@bp.route("/staff/phases/<int:phase_id>/edit", methods=["GET", "POST"])
@permission_required("phases.manage")
def edit_phase(phase_id: int) -> Response:
    phase = _phase_or_404(phase_id)
    form = PhaseForm(data=PhaseForm.data_from(phase, phases.criteria_of(phase.id)) if request.method == "GET" else None)
    outcome = apply(
        form,
        _by_the_form(lambda: phases.update_phase(phase, form.details(), by=current_user, seen=seen(form.version))),
    )
    if outcome:
        return done(url_for("grants.staff_phases"), f"Your changes to {phase.name} are saved.")
    return _form_page(form, phase)


@bp.route("/staff/phases/<int:phase_id>/state", methods=["POST"])
@permission_required("phases.manage")
def move_phase(phase_id: int) -> Response:
    phase = _phase_or_404(phase_id)
    form = PhaseStateForm()
    if not confirmed():  # a move tells people and cannot be taken back: check it, then ask
        return ask_to_move(
            phase, form, refused=lambda problem: _staff_list(status=422, problem=problem, problem_phase=phase_id)
        )
    outcome = apply(
        form, lambda: phases.move_phase(phase, PhaseState(given(form.to.data)), by=current_user, today=london_today())
    )
    if outcome:
        moved = outcome.result
        message = f"{phase.name} is now: {phase.state.label.lower()}."
        if moved:
            message += f" {len(moved)} submitted application{'' if len(moved) == 1 else 's'} went to the panel."
        return done(url_for("grants.staff_phases"), message)
    problem = outcome.error.message if outcome.error is not None else "Choose the state to move the phase to."
    return _staff_list(status=422, problem=problem, problem_phase=phase_id)


# --- staff: the panel's side-by-side list ------------------------------------------------------------------


@bp.route("/staff/phases/<int:phase_id>/applications")
@permission_required("panel.manage")
def panel_applications(phase_id: int) -> Response:
    phase = _phase_or_404(phase_id)
    form = PanelFilterForm(request.args)
    form.validate()
    page = paginate(reviews.panel_applications_query(phase.id, state=form.chosen_state(), sort=form.chosen_sort()))
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
