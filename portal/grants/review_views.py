"""The panel: staff assign reviewers; reviewers see what is assigned, score it (each criterion
saves in place with HTMX; without JavaScript the whole form posts), or declare a conflict."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.core.changes import apply, done, refused
from portal.core.db import utcnow
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.core.permissions import can, permission_required, require
from portal.core.web import paginate, render, wants_fragment
from portal.grants import bp, phases, reviews
from portal.grants.application_views import act, application_or_404, unplaced
from portal.grants.forms import (
    ActionForm,
    AssignReviewerForm,
    ConflictForm,
    ReviewFormBase,
    criterion_form,
    review_data,
    review_form,
)
from portal.grants.models import Application, ApplicationState, Criterion, Phase, ReviewerAssignment, ReviewState

# --- staff: the panel of a phase ------------------------------------------------------------------


def _panel_choices(phase_id: int) -> list[tuple[int, str]]:
    return [
        (i, t)
        for i, t in db.session.execute(
            sa.select(Application.id, Application.title)
            .where(
                Application.phase_id == phase_id,
                Application.state.notin_((ApplicationState.DRAFT, ApplicationState.WITHDRAWN)),
            )
            .order_by(Application.title, Application.id)
        )
    ]


def _panel_page(phase: Phase, form: AssignReviewerForm) -> Response:
    page = paginate(reviews.assignments_query(phase.id))
    return refused(
        "grants/panel.html",
        phase=phase,
        form=form,
        page=page,
        titles=reviews.application_titles(a.application_id for a in page.items),
        action_form=ActionForm(formdata=None),
        title=f"Panel for {phase.name}",
    )


def _assign(phase: Phase, form: AssignReviewerForm) -> str:
    """Put the reviewer on the panel (for one application, or for all); returns their name."""
    application = None
    if form.chosen_application_id() is not None:
        application = db.session.get(Application, form.chosen_application_id())
        if application is None or application.phase_id != phase.id:
            abort(404)
    assignment = reviews.assign_reviewer(phase, by=current_user, email=form.email.data or "", application=application)
    return assignment.reviewer.name


@bp.route("/staff/phases/<int:phase_id>/panel", methods=["GET", "POST"])
@permission_required("panel.manage")
def panel(phase_id: int) -> Response:
    phase = db.get_or_404(Phase, phase_id)
    form = AssignReviewerForm()
    form.set_choices(_panel_choices(phase.id))
    outcome = apply(form, lambda: _assign(phase, form))
    if outcome:
        return done(
            url_for("grants.panel", phase_id=phase_id), f"{outcome.result} is on the panel, and has been emailed."
        )
    return _panel_page(phase, form)


@bp.route("/staff/phases/<int:phase_id>/panel/<int:assignment_id>/remove", methods=["POST"])
@permission_required("panel.manage")
def remove_reviewer(phase_id: int, assignment_id: int) -> Response:
    assignment = db.session.get(ReviewerAssignment, assignment_id)
    if assignment is None or assignment.phase_id != phase_id:
        abort(404)
    act(ActionForm(), lambda: reviews.remove_assignment(assignment, by=current_user))
    return done(
        url_for("grants.panel", phase_id=phase_id), "The reviewer is no longer assigned. Any review they sent is kept."
    )


# --- a reviewer's list ------------------------------------------------------------------------------------


@bp.route("/reviews")
@permission_required("reviews.mine")
def my_reviews() -> Response:
    page = paginate(reviews.assigned_applications_query(current_user))
    return render(
        "grants/reviews.html",
        block="results",
        page=page,
        progress=reviews.reviewer_progress(current_user, page.items),
        to_score=reviews.still_to_score_count(current_user),
        title="Your reviews",
    )


# --- one review ------------------------------------------------------------------------------------------


def _reviewable(application_id: int) -> Application:
    application = application_or_404(application_id)
    require("application.review", application)
    return application


def _review_page(
    application: Application,
    *,
    status: int = 200,
    form: ReviewFormBase | None = None,
    conflict_form: ConflictForm | None = None,
    problems: list[RuleBroken] | None = None,
) -> Response:
    criteria = phases.criteria_of(application.phase_id)
    review = reviews.review_of(application.id, current_user.id)
    scores = reviews.scores_of(review)
    if form is None:
        form = review_form(
            criteria,
            formdata=None,
            data=review_data(scores, review.recommendation if review else None, review.comment if review else ""),
        )
    sent = review is not None and review.state == ReviewState.SUBMITTED
    see_others = sent and can(current_user, "application.see_all_reviews", application)
    return render(
        "grants/review_form.html",
        status=status,
        application=application,
        phase=application.phase,
        criteria=criteria,
        review=review,
        scores=scores,
        sent=sent,
        form=form,
        conflict_form=conflict_form or ConflictForm(formdata=None),
        problems=problems or [],
        others=reviews.reviews_for(application) if see_others else [],
        title=f"Review: {application.title or 'untitled application'}",
    )


def _save_review(application: Application, form: ReviewFormBase, criteria: list[Criterion], *, sending: bool) -> Any:
    """Save the whole review, and send it when asked; returns the payment claim drafted, if any."""
    reviews.save_review(
        application,
        by=current_user,
        scores=form.scores(criteria),
        recommendation=form.chosen_recommendation(),
        comment=form["comment"].data or "",
    )
    return reviews.submit_review(application, by=current_user, now=utcnow(), today=london_today()) if sending else None


@bp.route("/applications/<int:application_id>/review", methods=["GET", "POST"])
@permission_required("reviews.mine")
def review(application_id: int) -> Response:
    application = _reviewable(application_id)
    if request.method == "GET":
        return _review_page(application)
    criteria = phases.criteria_of(application.phase_id)
    form = review_form(criteria)
    sending = request.form.get("action") == "submit"
    # Nothing is saved when it is refused: the answers stay on the page.
    outcome = apply(form, lambda: _save_review(application, form, criteria, sending=sending))
    if outcome:
        if not sending:
            message = "Your review is saved as a draft. Send it when every criterion is scored."
        else:
            message = "Thank you. Your review is sent, and you can now see the other reviewers' scores."
        if outcome.result is not None:
            message += " We have drafted a payment claim for your time: check it and send it from Your payments."
        return done(url_for("grants.review", application_id=application_id), message)
    if outcome.error is not None:
        application = application_or_404(application_id)
    return _review_page(application, status=422, form=form, problems=unplaced(form, outcome))


def _save_score(application: Application, criterion: Criterion, form: ReviewFormBase) -> None:
    score, comment = form.scores([criterion])[criterion.id]
    reviews.save_score(application, criterion, by=current_user, score=score, comment=comment)


@bp.route("/applications/<int:application_id>/review/criteria/<int:criterion_id>", methods=["POST"])
@permission_required("reviews.mine")
def save_criterion(application_id: int, criterion_id: int) -> Response:
    application = _reviewable(application_id)
    criterion = db.session.get(Criterion, criterion_id)
    if criterion is None or criterion.phase_id != application.phase_id:
        abort(404)
    form = criterion_form(criterion)
    outcome = apply(form, lambda: _save_score(application, criterion, form))
    if wants_fragment():
        # A refused score comes back with its message as a 200 too: htmx reports a 4xx as an error.
        return render(
            "grants/_criterion_score_fields.html",
            application=application,
            criterion=criterion,
            form=form,
            saved=bool(outcome),
            fragment=True,
        )
    if outcome:
        url = url_for("grants.review", application_id=application_id, _anchor=f"criterion-{criterion.id}")
        return done(url, f"Your score for \u201c{criterion.name}\u201d is saved.")
    whole = review_form(phases.criteria_of(application.phase_id))
    for name, field in form._fields.items():
        if name in whole._fields:
            whole[name].errors = list(field.errors)
    return _review_page(application_or_404(application_id), status=422, form=whole)


@bp.route("/applications/<int:application_id>/review/conflict", methods=["POST"])
@permission_required("reviews.mine")
def declare_conflict(application_id: int) -> Response:
    application = _reviewable(application_id)
    form = ConflictForm()
    outcome = apply(
        form,
        lambda: reviews.declare_conflict(application, by=current_user, reason=form.reason.data or "", now=utcnow()),
    )
    if outcome:
        return done(
            url_for("grants.my_reviews"),
            "Thank you for telling us. You will not review or see this application any more.",
        )
    return _review_page(application_or_404(application_id), status=422, conflict_form=form)
