"""Finance: approved claims waiting to be paid, payment batches, their CSV export, marking them
paid, and each payee's reference in the finance system (the portal keeps no bank details).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response

from portal.accounts.models import User
from portal.core.changes import Outcome, apply, done, refused
from portal.core.confirm import ask, confirmed
from portal.core.csv_export import csv_response
from portal.core.db import utcnow
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.core.forms import given
from portal.core.keyset_lists import capped_count
from portal.core.permissions import permission_required, require
from portal.core.web import render
from portal.remuneration import batches, bp, confirm_pages, dashboards, payees, runs
from portal.remuneration.models import BatchState, PaymentBatch, PaymentPreference, RunKind, RunState
from portal.remuneration.review_forms import CarryOnForm, CreateBatchForm, MarkPaidForm, PayeeForm

AWAITING_SHOWN = 10  # batches awaiting payment listed on the dashboard; the rest are a link away
CHANGED_MEANWHILE = "Someone else changed one of these claims at the same time. Check the list and try again."

T = TypeVar("T")


def _apply_to_claims(form: FlaskForm, field: str, change: Callable[[], T]) -> Outcome[T]:
    """``apply``, telling a claim someone else changed at the same time next to ``field``."""

    def flushed() -> T:
        try:
            result = change()
            db.session.flush()  # a claim changed meanwhile shows here, before the commit
        except StaleDataError as error:
            raise RuleBroken(field, CHANGED_MEANWHILE) from error
        return result

    return apply(form, flushed, stale_message=CHANGED_MEANWHILE)


def _chosen(form: CreateBatchForm) -> list[int]:
    if form.every_approved.data:
        return batches.every_approved_claim(by=current_user, approved_until=form.approved_until_moment())
    return form.claim_ids.data or []


def _dashboard(form: CreateBatchForm, status: int = 200) -> Response:
    form.approved_until.data = utcnow().isoformat()
    page = dashboards.unbatched_page()
    awaiting = dashboards.awaiting_batches(AWAITING_SHOWN)
    return render(
        "remuneration/finance/dashboard.html",
        status=status,
        form=form,
        page=page,
        rows=dashboards.payment_rows(page.items),
        unbatched=dashboards.totals_where(dashboards.UNBATCHED),
        awaiting=awaiting,
        awaiting_totals=dashboards.batch_totals(b.id for b in awaiting),
        awaiting_count=dashboards.count_batches(BatchState.AWAITING_PAYMENT),
        chosen=set(form.claim_ids.data or []),
        title="Finance: payments",
    )


@bp.route("/finance")
@permission_required("payments.batches")
def finance_dashboard() -> Response:
    return _dashboard(CreateBatchForm(formdata=None))


@bp.route("/finance/batches", methods=["POST"])
@permission_required("payments.batches")
def create_batch() -> Response:
    form = CreateBatchForm()
    outcome = _apply_to_claims(
        form,
        "claim_ids",
        lambda: batches.create_batch(reference=form.reference.data or "", claim_ids=_chosen(form), by=current_user),
    )
    if not outcome:
        return _dashboard(form, status=422)
    batch = outcome.result
    if runs.unfinished_run(batch.id) is not None:
        return done(
            url_for("remuneration.batch", batch_id=batch.id),
            f"Batch {batch.reference} is being made: its claims are joining it in the background. "
            "Its page shows how far it has got.",
        )
    return done(
        url_for("remuneration.batch", batch_id=batch.id),
        f"Batch {batch.reference} is ready. Download its file for the finance system, "
        "then mark it paid once the payments are made.",
    )


@bp.route("/finance/batches", endpoint="batches")
@permission_required("payments.batches")
def batches_list() -> Response:
    state = request.args.get("state", "")
    chosen = BatchState(state) if state in BatchState._value2member_map_ else None
    page = dashboards.batches_page(chosen)
    total, more = capped_count(dashboards.batches_query(chosen))
    return render(
        "remuneration/finance/batches.html",
        page=page,
        total=total,
        more=more,
        state=chosen,
        batch_totals=dashboards.batch_totals(b.id for b in page.items),
        title="Payment batches",
    )


def _batch_page(batch: PaymentBatch, form: MarkPaidForm, status: int = 200) -> Response:
    page = dashboards.batch_claims_page(batch.id)
    run = runs.latest_run(batch.id)
    return render(
        "remuneration/finance/batch.html",
        block="run_progress",  # htmx polls the run's progress while it works
        status=status,
        run=run,
        busy=run is not None
        and (run.moving_claims or (run.state == RunState.FAILED and run.claims_done < run.claims_total)),
        batch=batch,
        form=form,
        page=page,
        rows=dashboards.payment_rows(page.items),
        totals=dashboards.batch_totals([batch.id])[batch.id],
        own_claims=batches.own_claims_in(batch, current_user),
        today=london_today(),
        title=f"Payment batch {batch.reference}",
    )


@bp.route("/finance/batches/<int:batch_id>")
@permission_required("payments.batches")
def batch(batch_id: int) -> Response:
    found = db.get_or_404(PaymentBatch, batch_id)
    return _batch_page(found, MarkPaidForm(formdata=None, data={"paid_on": london_today()}))


def _paid(form: MarkPaidForm) -> dict[str, Any]:
    return {
        "paid_on": given(form.paid_on.data),
        "payment_reference": form.payment_reference.data or "",
        "by": current_user,
        "today": london_today(),
    }


@bp.route("/finance/batches/<int:batch_id>/paid", methods=["POST"])
@permission_required("payments.batches")
def mark_batch_paid(batch_id: int) -> Response:
    found = db.get_or_404(PaymentBatch, batch_id)
    form = MarkPaidForm()
    if not confirmed():  # every claimant is emailed: the date and reference are checked, then asked about
        checked = apply(form, lambda: batches.check_mark_paid(found, **_paid(form)))
        if not checked:
            return _batch_page(db.get_or_404(PaymentBatch, batch_id), form, status=422)
        question = confirm_pages.mark_paid_question(
            found, paid_on=given(form.paid_on.data), reference=(form.payment_reference.data or "").strip()
        )
        return ask(question)
    outcome = _apply_to_claims(form, "paid_on", lambda: batches.mark_batch_paid(found, **_paid(form)))
    if not outcome:
        return _batch_page(db.get_or_404(PaymentBatch, batch_id), form, status=422)
    if runs.unfinished_run(batch_id) is not None:
        return done(
            url_for("remuneration.batch", batch_id=batch_id),
            f"Batch {found.reference} is being marked paid in the background. Its page shows how far it has got; "
            "its claimants are told as their claims are paid.",
        )
    return done(
        url_for("remuneration.batch", batch_id=batch_id),
        f"Batch {found.reference} is marked paid. Its claimants have been told.",
    )


@bp.route("/finance/batches/<int:batch_id>/csv")
@permission_required("payments.batches")
def batch_csv(batch_id: int) -> Response:
    found = db.get_or_404(PaymentBatch, batch_id)
    busy = runs.unfinished_run(found.id)
    if busy is not None and busy.kind == RunKind.CREATE:
        return done(
            url_for("remuneration.batch", batch_id=batch_id),
            f"Batch {found.reference} is still being made. Download its file once all its claims are in it.",
        )
    return csv_response(f"batch-{found.reference}.csv", batches.CSV_COLUMNS, batches.batch_rows(found))


@bp.route("/finance/batches/<int:batch_id>/carry-on", methods=["POST"])
@permission_required("payments.batches")
def carry_on_run(batch_id: int) -> Response:
    """Start a run that stopped (its page says why) again from where it stopped."""
    found = db.get_or_404(PaymentBatch, batch_id)
    run = runs.latest_run(found.id)
    if run is None:
        abort(404)
    outcome = apply(CarryOnForm(), lambda: runs.resume(run))
    if not outcome:
        return _batch_page(found, MarkPaidForm(formdata=None, data={"paid_on": london_today()}), status=422)
    return done(url_for("remuneration.batch", batch_id=batch_id), f"Batch {found.reference}'s run is carrying on.")


# --- payees ------------------------------------------------------------------------------------------


@bp.route("/finance/payees/<int:user_id>", methods=["GET", "POST"])
@permission_required("payments.batches")
def payee(user_id: int) -> Response:
    person = db.get_or_404(User, user_id)
    require("payment_preferences.view", person)
    preference = db.session.get(PaymentPreference, person.id)
    if request.method == "GET":
        form = PayeeForm(formdata=None, data={"payee_reference": preference.payee_reference if preference else ""})
    else:
        form = PayeeForm()
    outcome = apply(
        form, lambda: payees.set_payee_reference(person, preference, form.payee_reference.data or "", by=current_user)
    )
    if outcome:
        return done(
            url_for("remuneration.payee", user_id=user_id),
            f"{person.name}'s payee reference is saved." if outcome.result else "Nothing changed.",
        )
    return refused(
        "remuneration/finance/payee.html",
        person=person,
        preference=preference,
        form=form,
        title=f"Payee: {person.name}",
    )
