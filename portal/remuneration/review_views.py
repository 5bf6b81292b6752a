"""Checking claims: a lead confirms, staff approve, ask a question, reject or cancel; the queue,
a lead's confirmations and the staff payments dashboard.

Each action loads the claim, asks ``permissions`` (403), calls the service in ``claims`` and
commits. A service's ``RuleBroken`` re-shows the form with its message (422, nothing saved).
Two people acting on one claim at once: ``Claim.version`` makes the second commit fail with
``StaleDataError``, and that person is shown where the claim stands now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask import abort, current_app, flash, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from portal.core import permissions
from portal.core.changes import apply, done
from portal.core.confirm import Confirmation, ask, confirmed
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.core.keyset_lists import capped_count
from portal.core.permissions import permission_required, require
from portal.core.web import redirect_to, render
from portal.remuneration import bp, claims, confirm_pages, dashboards
from portal.remuneration.models import TRANSITIONS, Claim, ClaimState
from portal.remuneration.review_forms import ACTION_FORMS, QueueFilterForm, action_form

SOMEONE_ELSE = "Someone else has just dealt with this claim; here is where it stands now."

# action -> (permission rule, the state it moves the claim to, what the page says afterwards)
ACTIONS: dict[str, tuple[str, ClaimState, str]] = {
    "confirm": (
        "claim.confirm",
        ClaimState.CONFIRMED,
        "You have confirmed the activity. The programme team will approve the claim next.",
    ),
    "approve": (
        "claim.approve",
        ClaimState.APPROVED,
        "The claim is approved. It will be paid in the next payment batch.",
    ),
    "query": (
        "claim.query",
        ClaimState.QUERIED,
        "Your question has been sent. The claim is back with the claimant until they answer.",
    ),
    "reject": ("claim.reject", ClaimState.REJECTED, "The claim is rejected. The claimant has been told why."),
    "void": ("claim.void", ClaimState.VOIDED, "The claim is cancelled."),
}


@bp.app_template_global()
def claim_action_forms(**failed: FlaskForm) -> dict[str, FlaskForm]:
    """Empty forms for every action on a claim, with any that failed (and their errors) in their place."""
    return {action: failed.get(action) or action_form(action, blank=True) for action in ACTION_FORMS}


@bp.app_template_filter("days_waiting")
def days_waiting(since: datetime, today: date) -> str:
    """How long ago a claim was sent, in whole days in London: "waiting 3 days"."""
    days = (today - dashboards.local_day(since)).days
    return "sent today" if days <= 0 else f"waiting {days} day{'' if days == 1 else 's'}"


def _claim_or_404(claim_id: int) -> Claim:
    claim: Claim | None = db.session.scalar(
        sa.select(Claim)
        .where(Claim.id == claim_id)
        .options(joinedload(Claim.claimant), joinedload(Claim.activity_type), joinedload(Claim.project))
        .execution_options(populate_existing=True)  # fresh after a rollback
    )
    if claim is None:
        abort(404)
    return claim


def _claim_page(claim_id: int) -> str:
    return url_for("remuneration.claim", claim_id=claim_id)


def _dealt_with(claim_id: int) -> Response:
    """Someone else moved the claim on first: nothing of this action is kept; show where it stands."""
    flash(SOMEONE_ELSE, "warning")
    return redirect_to(_claim_page(claim_id))


def _moved_on(claim: Claim, to: ClaimState) -> bool:
    """The claim has already left the state this action starts from, and the person could see it.

    Someone looking at an old page of a claim they check (staff, or its confirming lead) is told
    where it stands, rather than "no permission". The claimant and strangers get the rule's 403.
    """
    return (
        to not in TRANSITIONS[claim.state]
        and claim.claimant_id != current_user.id
        and permissions.can(current_user, "claim.view", claim)
    )


def _error_page(claim: Claim, action: str, form: FlaskForm) -> Response:
    return render(
        "remuneration/claim_action_error.html",
        status=422,
        claim=claim,
        action=action,
        form=form,
        expenses_pence=claims.expenses_pence(claim),
        title=f"Claim {claim.id}: there is a problem",
    )


@dataclass(frozen=True)
class AskFirst:
    """An action that cannot be taken back: its checks run, then its confirmation page is shown."""

    check: Callable[[Claim, FlaskForm], None]
    question: Callable[[Claim], Confirmation]


def _act(
    claim_id: int, action: str, move: Callable[[Claim, FlaskForm], None], ask_first: AskFirst | None = None
) -> Response:
    rule, to, message = ACTIONS[action]
    claim = _claim_or_404(claim_id)
    if _moved_on(claim, to):
        return _dealt_with(claim_id)
    require(rule, claim)
    form = action_form(action)
    if ask_first is not None and not confirmed():
        checked = apply(form, lambda: ask_first.check(claim, form))  # changes nothing: a rule shows by its field
        if not checked:
            return _error_page(_claim_or_404(claim_id) if checked.error else claim, action, form)
        return ask(ask_first.question(claim))
    outcome = apply(form, lambda: move(claim, form))
    if outcome.stale:
        return _dealt_with(claim_id)
    if not outcome:
        # After a broken rule the claim is read again, as the rollback left it.
        return _error_page(_claim_or_404(claim_id) if outcome.error else claim, action, form)
    return done(_claim_page(claim_id), message)


@bp.route("/claims/<int:claim_id>/confirm", methods=["POST"])
@permission_required("claims.confirmations")
def confirm_claim(claim_id: int) -> Response:
    return _act(claim_id, "confirm", lambda claim, form: claims.confirm_claim(claim, by=current_user, now=utcnow()))


@bp.route("/claims/<int:claim_id>/approve", methods=["POST"])
@permission_required("claims.queue")
def approve_claim(claim_id: int) -> Response:
    return _act(
        claim_id,
        "approve",
        lambda claim, form: claims.approve_claim(
            claim, by=current_user, now=utcnow(), over_budget_confirmed=bool(form.confirm_over_budget.data)
        ),
    )


@bp.route("/claims/<int:claim_id>/query", methods=["POST"])
@permission_required("claims.confirmations")  # a confirming lead may ask too; the claim rule decides
def query_claim(claim_id: int) -> Response:
    return _act(
        claim_id,
        "query",
        lambda claim, form: claims.query_claim(claim, by=current_user, question=form.question.data or ""),
    )


@bp.route("/claims/<int:claim_id>/reject", methods=["POST"])
@permission_required("claims.queue")
def reject_claim(claim_id: int) -> Response:
    return _act(
        claim_id,
        "reject",
        lambda claim, form: claims.reject_claim(claim, by=current_user, reason=form.reason.data or ""),
        AskFirst(
            lambda claim, form: claims.check_reject(claim, by=current_user, reason=form.reason.data or ""),
            confirm_pages.reject_question,
        ),
    )


@bp.route("/claims/<int:claim_id>/void", methods=["POST"])
@permission_required("claims.own")  # claimants cancel their own; the claim rule decides
def void_claim(claim_id: int) -> Response:
    return _act(
        claim_id,
        "void",
        lambda claim, form: claims.void_claim(claim, by=current_user, reason=form.reason.data or ""),
        AskFirst(
            lambda claim, form: claims.check_void(claim, by=current_user, reason=form.reason.data or ""),
            confirm_pages.void_question,
        ),
    )


# --- lists and the dashboard ---------------------------------------------------------------------


@bp.route("/claims/queue")
@permission_required("claims.queue")
def queue() -> Response:
    form = QueueFilterForm(request.args)
    form.validate()
    state = form.chosen()
    page = dashboards.queue_page(state)
    return render(
        "remuneration/queue.html",
        block="results",
        form=form,
        page=page,
        state=state,
        expenses=dashboards.expenses_by_claim(c.id for c in page.items),
        totals=dashboards.totals_where(dashboards.queue_condition(state)),
        today=london_today(),
        title="Claims to check",
    )


@bp.route("/claims/confirmations")
@permission_required("claims.confirmations")
def confirmations() -> Response:
    query = dashboards.confirmations_query(current_user)
    page = dashboards.by_waiting(query)
    total, more = capped_count(query)
    return render(
        "remuneration/confirmations.html",
        block="results",
        page=page,
        total=total,
        more=more,
        expenses=dashboards.expenses_by_claim(c.id for c in page.items),
        confirm_form=action_form("confirm", blank=True),
        title="Claims for you to confirm",
    )


@bp.route("/staff/payments")
@permission_required("claims.queue")
def staff_dashboard() -> Response:
    today = london_today()
    return render(
        "remuneration/staff_dashboard.html",
        states=dashboards.waiting_by_state(),
        oldest=dashboards.oldest_waiting(),
        today=today,
        speed=dashboards.payment_speed(today, current_app.config["PAYMENT_TARGET_DAYS"]),
        title="Payments to contributors",
    )
