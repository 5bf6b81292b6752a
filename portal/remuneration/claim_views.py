"""Claimant pages: payments overview, payment preferences, claims and expenses, statements.

Views parse the form, ask ``permissions``, call the services in ``claims`` and ``benefits``,
commit, and render or redirect. Money stays integer pence until a template shows it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import abort, current_app, flash, request, send_file, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.wrappers import Response

from portal.accounts.verification import Unverified
from portal.core import audit, uploads
from portal.core.audit import AuditEntry
from portal.core.changes import apply, done, refused
from portal.core.csv_export import csv_response, text_cell
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.form_fields import number_text, pounds_text
from portal.core.formatting import local_date, london_today, money
from portal.core.keyset_lists import capped_count, keyset_page
from portal.core.permissions import permission_required, require
from portal.core.web import redirect_to, render
from portal.remuneration import benefits, bp, claims, rates
from portal.remuneration.batches import pounds
from portal.remuneration.forms import (
    ActionForm,
    ClaimForm,
    ExpenseForm,
    PreferencesForm,
    StatementForm,
    SubmitClaimForm,
    activity_choices,
)
from portal.remuneration.models import (
    COUNTED_STATES,
    Claim,
    ClaimState,
    ExpenseLine,
    PaymentMethod,
    PaymentPreference,
    Unit,
)

RECEIPTS = "receipts"
CHANGED_BY_SOMEONE_ELSE = (
    "Someone else changed this claim while you were working on it. Check the claim below, then try again."
)
# How each audited move reads on the claim's history.
HISTORY_WORDS = {
    "claim.repriced": "Priced at the rate in force when it was sent",
    "claim.submitted": "Sent for checking",
    "claim.confirmed": "Confirmed by the project lead",
    "claim.approved": "Approved",
    "claim.queried": "Question asked",
    "claim.rejected": "Rejected",
    "claim.voided": "Cancelled",
    "claim.batched": "Added to a payment run",
    "claim.paid": "Paid",
}


@bp.app_template_filter("claim_units")
def claim_units(units: Decimal, unit: Unit) -> str:
    """Decimal('1.50'), hour -> '1.5 hours'."""
    text = number_text(units)
    return f"{text} {unit.label}" + ("" if units == 1 else "s")


def per_mile(rate_pence: int) -> str:
    """45 -> '45p'; 150 -> '£1.50'."""
    return f"{rate_pence}p" if rate_pence < 100 else money(rate_pence)


@bp.app_template_filter("mileage")
def mileage(miles: Decimal, rate_pence: int) -> str:
    """Decimal('10.0'), 45 -> '10 miles at 45p a mile'; Decimal('1.0') -> '1 mile at ...'."""
    return f"{number_text(miles)} mile{'' if miles == 1 else 's'} at {per_mile(rate_pence)} a mile"


def _claim_or_404(claim_id: int) -> Claim:
    claim: Claim | None = db.session.scalar(
        sa.select(Claim)
        .where(Claim.id == claim_id)
        .options(
            joinedload(Claim.claimant),
            joinedload(Claim.activity_type),
            joinedload(Claim.project),
            joinedload(Claim.approved_by),
            selectinload(Claim.expenses),
        )
        .execution_options(populate_existing=True)  # fresh after a rollback, relationships included
    )
    if claim is None:
        abort(404)
    return claim


def _changed_meanwhile(claim_id: int) -> Response:
    """Someone else saved the claim first: nothing of this change is kept; show the claim as it is now."""
    flash(CHANGED_BY_SOMEONE_ELSE, "error")
    return redirect_to(url_for("remuneration.claim", claim_id=claim_id))


def _expenses_by_claim(claim_ids: list[int]) -> dict[int, int]:
    if not claim_ids:
        return {}
    rows = db.session.execute(
        sa.select(ExpenseLine.claim_id, sa.func.sum(ExpenseLine.amount_pence))
        .where(ExpenseLine.claim_id.in_(claim_ids))
        .group_by(ExpenseLine.claim_id)
    )
    return {claim_id: int(total) for claim_id, total in rows}


# --- payments overview and preferences -----------------------------------------------------------


def _current_periods(
    totals: dict[str, list[benefits.PeriodTotal]], today: date, preference: PaymentPreference | None
) -> list[tuple[str, benefits.PeriodTotal]]:
    """This week, this month and this tax year, with a zero total when nothing was claimed yet."""
    found = []
    for name, key, bounds, limit in (
        ("This week", "weeks", benefits.week_of(today), preference.weekly_limit_pence if preference else None),
        ("This month", "months", benefits.month_of(today), preference.monthly_limit_pence if preference else None),
        ("This tax year", "tax_years", benefits.tax_year_of(today), None),
    ):
        total = next((t for t in totals[key] if t.start == bounds[0]), None)
        found.append((name, total or benefits.PeriodTotal(bounds[0], bounds[1], 0, limit)))
    return found


@bp.route("/payments")
@permission_required("claims.own")
def payments() -> Response:
    query = (
        sa.select(Claim)
        .where(Claim.claimant_id == current_user.id)
        .options(joinedload(Claim.activity_type), joinedload(Claim.project))
    )
    # Newest activity first, a page at a time by (date, id) over the claimant's index.
    page = keyset_page(query, Claim.activity_date, Claim.id, descending=True)
    total, more = capped_count(query)
    today = london_today()
    totals = benefits.period_totals(current_user.id, today)
    preference = db.session.get(PaymentPreference, current_user.id)
    return render(
        "remuneration/payments.html",
        block="claims",
        page=page,
        total=total,
        more=more,
        title="Your payments",
        expenses=_expenses_by_claim([c.id for c in page.items]),
        totals=totals,
        preference=preference,
        current=_current_periods(totals, today, preference),
    )


def _preference_values(preference: PaymentPreference | None) -> dict[str, Any] | None:
    if preference is None:
        return None
    return {
        "method": preference.method.value,
        "charity_name": preference.charity_name,
        "weekly_limit_pence": preference.weekly_limit_pence,
        "monthly_limit_pence": preference.monthly_limit_pence,
    }


def _save_preferences(preference: PaymentPreference | None, form: PreferencesForm) -> None:
    # Domain logic that belongs in a service; there is no preferences service yet, so it stays small here.
    before = _preference_values(preference)
    if preference is None:
        preference = PaymentPreference(user_id=current_user.id)
        db.session.add(preference)
    method = PaymentMethod(form.method.data)
    preference.method = method
    preference.charity_name = (form.charity_name.data or "") if method == PaymentMethod.CHARITY else ""
    preference.weekly_limit_pence = form.weekly_limit.pence
    preference.monthly_limit_pence = form.monthly_limit.pence
    after = _preference_values(preference)
    if after != before:
        # PaymentPreference is keyed by its person, so the entry is filed under the person.
        audit.record("payment_preferences.changed", current_user, actor=current_user, before=before, after=after)


@bp.route("/payments/preferences", methods=["GET", "POST"])
@permission_required("claims.own")
def preferences() -> Response:
    preference = db.session.get(PaymentPreference, current_user.id)
    form = PreferencesForm(data=PreferencesForm.data_from(preference) if request.method == "GET" else None)
    if apply(form, lambda: _save_preferences(preference, form)):
        return done(url_for("remuneration.payments"), "Your payment preferences have been saved.")
    return refused(
        "remuneration/preferences.html",
        form=form,
        preference=preference,
        title="How you are paid and your earnings limits",
    )


# --- making and changing a claim -------------------------------------------------------------


def _claim_form(today: date, claim: Claim | None = None) -> ClaimForm:
    data = None
    if request.method == "GET":
        data = ClaimForm.data_from(claim) if claim else {"activity_date": today}
    form = ClaimForm(data=data)
    form.set_choices(activity_choices(rates.rate_card(today)), claims.claimant_projects(current_user))
    return form


@bp.route("/claims/new", methods=["GET", "POST"])
@permission_required("claims.own")
def new_claim() -> Response:
    today = london_today()
    form = _claim_form(today)
    outcome = apply(form, lambda: claims.create_claim(current_user, form.details(), today=today))
    if outcome:
        return done(
            url_for("remuneration.claim", claim_id=outcome.result.id),
            "Your claim is saved as a draft. Add any expenses, then send it.",
        )
    return refused("remuneration/claim_form.html", form=form, claim=None, today=today, title="Claim for your time")


@bp.route("/claims/<int:claim_id>/edit", methods=["GET", "POST"])
@permission_required("claims.own")
def edit_claim(claim_id: int) -> Response:
    claim = _claim_or_404(claim_id)
    require("claim.edit", claim)
    today = london_today()
    form = _claim_form(today, claim)
    outcome = apply(form, lambda: claims.update_claim(claim, form.details(), by=current_user, today=today))
    if outcome.stale:
        return _changed_meanwhile(claim_id)
    if outcome:
        return done(url_for("remuneration.claim", claim_id=claim_id), "Your changes have been saved.")
    if outcome.error:
        claim = _claim_or_404(claim_id)  # as it stands after the rollback
    return refused("remuneration/claim_form.html", form=form, claim=claim, today=today, title="Change your claim")


# --- one claim -------------------------------------------------------------------------------------


def _history(claim_id: int) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            audit.entries_query(object_type="Claim")
            .where(AuditEntry.object_id == str(claim_id))
            .order_by(None)
            .order_by(AuditEntry.id)
        )
    )


def _expense_form() -> ExpenseForm:
    form = ExpenseForm()
    cap = current_app.config["EXPENSE_CLAIM_CAP_PENCE"]
    if cap:
        form.amount.description = f"{form.amount.description} One claim's expenses can come to {money(cap)} at most."
    rate = current_app.config["MILEAGE_RATE_PENCE"]
    form.miles.description = (
        f"For mileage, enter the miles and leave the amount empty. We work out the amount at "
        f"{per_mile(rate)} a mile, so 10 miles is {money(rate * 10)}."
    )
    return form


def _claim_page(claim: Claim, *, status: int = 200, expense_form: ExpenseForm | None = None) -> Response:
    return render(
        "remuneration/claim.html",
        status=status,
        claim=claim,
        title=f"{claim.activity_type.name} on {local_date(claim.activity_date)}",
        expenses_total=sum(line.amount_pence for line in claim.expenses),
        history=_history(claim.id),
        history_words=HISTORY_WORDS,
        preference=db.session.get(PaymentPreference, claim.claimant_id),
        expense_form=expense_form or _expense_form(),
        action_form=ActionForm(formdata=None),
    )


@bp.route("/claims/<int:claim_id>", endpoint="claim")
@permission_required("claims.own")
def show_claim(claim_id: int) -> Response:
    claim = _claim_or_404(claim_id)
    require("claim.view", claim)
    return _claim_page(claim)


def _add_expense_line(claim: Claim, form: ExpenseForm, stored: list[str]) -> None:
    """Add the line and keep its receipt on disk (named in ``stored``, for the caller to remove
    again if the line is not saved)."""
    line = claims.add_expense(
        claim,
        by=current_user,
        category=form.chosen_category(),
        description=form.description.data or "",
        amount_pence=form.amount.pence,
        miles=form.miles.number,
        mileage_rate_pence=current_app.config["MILEAGE_RATE_PENCE"],
    )
    upload = form.receipt.data
    if upload is None:
        return
    kept = uploads.store(
        upload.stream,
        upload.filename or "",
        kind=RECEIPTS,
        max_bytes=current_app.config["RECEIPT_MAX_BYTES"],
        field="receipt",
    )
    stored.append(kept.stored_name)
    line.receipt_stored_name = kept.stored_name
    line.receipt_filename = kept.filename
    line.receipt_content_type = kept.content_type


def _remove_receipts(stored: list[str]) -> None:
    for name in stored:
        uploads.remove(RECEIPTS, name)  # no file without its expense line


@bp.route("/claims/<int:claim_id>/expenses", methods=["POST"])
@permission_required("claims.own")
def add_expense(claim_id: int) -> Response:
    claim = _claim_or_404(claim_id)
    require("claim.edit", claim)
    form = _expense_form()
    stored: list[str] = []
    try:
        outcome = apply(form, lambda: _add_expense_line(claim, form, stored), stale_message=CHANGED_BY_SOMEONE_ELSE)
    except Exception:
        db.session.rollback()
        _remove_receipts(stored)
        raise
    if outcome:
        return done(
            url_for("remuneration.claim", claim_id=claim_id) + "#expenses", "The expense has been added to your claim."
        )
    _remove_receipts(stored)
    return _claim_page(_claim_or_404(claim_id), status=422, expense_form=form)


def _line_on(claim: Claim, line_id: int) -> ExpenseLine:
    line = next((line for line in claim.expenses if line.id == line_id), None)
    if line is None:
        abort(404)
    return line


@bp.route("/claims/<int:claim_id>/expenses/<int:line_id>/delete", methods=["POST"])
@permission_required("claims.own")
def remove_expense(claim_id: int, line_id: int) -> Response:
    claim = _claim_or_404(claim_id)
    require("claim.edit", claim)
    line = _line_on(claim, line_id)
    outcome = apply(
        None, lambda: claims.remove_expense(claim, line, by=current_user), stale_message=CHANGED_BY_SOMEONE_ELSE
    )
    back = url_for("remuneration.claim", claim_id=claim_id) + "#expenses"
    if not outcome:
        return redirect_to(back)  # with the reason flashed
    uploads.remove(RECEIPTS, outcome.result)  # only once the line is gone for good
    return done(back, "The expense has been removed from your claim.")


@bp.route("/claims/<int:claim_id>/expenses/<int:line_id>/receipt")
@permission_required("claims.own")
def receipt(claim_id: int, line_id: int) -> Response:
    claim = _claim_or_404(claim_id)
    require("receipt.download", claim)
    line = _line_on(claim, line_id)
    if not line.receipt_stored_name:
        abort(404)
    path = uploads.path_of(RECEIPTS, line.receipt_stored_name)
    if not path.is_file():
        abort(404)
    served = uploads.served_type(path)  # from the file's own first bytes, not the client's name or type
    response = send_file(
        path,
        mimetype=served,
        as_attachment=True,
        download_name=uploads.download_name(line.receipt_filename, served, fallback="receipt"),
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- sending a claim, with the earnings-limit warning ------------------------------------------


def _warning_page(
    claim_id: int, form: SubmitClaimForm, breaches: list[benefits.LimitBreach] | None = None, *, status: int
) -> Response:
    claim = _claim_or_404(claim_id)
    if breaches is None:
        breaches = benefits.limit_breaches(claim, claim.full_fee_pence)
    room = min((b.room_pence for b in breaches), default=claim.full_fee_pence)
    if not form.reduced_fee.data:
        form.reduced_fee.data = pounds_text(min(room, claim.full_fee_pence))
    form.warned.data = "yes"
    return render(
        "remuneration/submit_warning.html",
        status=status,
        claim=claim,
        form=form,
        breaches=breaches,
        room_pence=room,
        title="This claim would take you over your limit",
    )


def _send(claim: Claim, form: SubmitClaimForm) -> tuple[list[benefits.LimitBreach], claims.Repriced | None]:
    """Send the claim; if that would break an earnings limit, the limits it would break. And
    whether the draft was priced afresh at a changed rate."""
    repriced = claims.reprice(claim, by=current_user)
    breaches = claims.submit_claim(
        claim,
        by=current_user,
        now=utcnow(),
        choice=form.choice.data or "",
        reduced_fee_pence=form.reduced_fee.pence,
    )
    if breaches:
        # On purpose: nothing is sent until they choose. Only the new rate is kept (and said), so the
        # warning works with the fee the claim will really have.
        db.session.rollback()
        repriced = claims.reprice(claim, by=current_user)
    return breaches, repriced


@bp.route("/claims/<int:claim_id>/submit", methods=["POST"])
@permission_required("claims.own")
def submit_claim(claim_id: int) -> Response:
    claim = _claim_or_404(claim_id)
    require("claim.submit", claim)
    form = SubmitClaimForm()
    outcome = apply(form, lambda: _send(claim, form))
    if outcome.stale:
        return _changed_meanwhile(claim_id)
    if isinstance(outcome.error, Unverified):  # flashed: back to the claim, which says what to do
        return done(url_for("remuneration.claim", claim_id=claim_id))
    if not outcome:
        return _warning_page(claim_id, form, status=422)
    breaches, repriced = outcome.result
    if repriced is not None:
        flash(repriced.message, "warning")
    if breaches:
        return _warning_page(claim_id, form, breaches, status=200)
    return done(url_for("remuneration.claim", claim_id=claim_id), "Thank you. Your claim has been sent for checking.")


# --- statement ---------------------------------------------------------------------------------------


def _statement_rows(user_id: int, start: date, end: date) -> list[tuple[Claim, int]]:
    """The person's claims (not drafts) with activity in the range, each with its expenses total."""
    expenses = (
        sa.select(ExpenseLine.claim_id, sa.func.sum(ExpenseLine.amount_pence).label("total"))
        .join(Claim, Claim.id == ExpenseLine.claim_id)
        .where(Claim.claimant_id == user_id, Claim.activity_date.between(start, end))
        .group_by(ExpenseLine.claim_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(Claim, sa.func.coalesce(expenses.c.total, 0))
        .outerjoin(expenses, expenses.c.claim_id == Claim.id)
        .where(Claim.claimant_id == user_id, Claim.state != ClaimState.DRAFT, Claim.activity_date.between(start, end))
        .options(joinedload(Claim.activity_type), joinedload(Claim.project))
        .order_by(Claim.activity_date, Claim.id)
    )
    return [(claim, int(total)) for claim, total in rows]


def _statement_totals(rows: list[tuple[Claim, int]]) -> dict[str, int]:
    counted = [(c, e) for c, e in rows if c.state in COUNTED_STATES]
    return {
        "fees": sum(c.payable_fee_pence for c, _ in counted),
        "expenses": sum(e for _, e in counted),
        "paid": sum(c.payable_fee_pence + e for c, e in rows if c.state == ClaimState.PAID),
    }


STATEMENT_COLUMNS = [
    "claim_id",
    "activity_date",
    "activity_type",
    "units",
    "unit",
    "rate",
    "fee",
    "payment_declined",
    "expenses",
    "total",
    "state",
    "project_or_programme",
    "paid_on",
]


def _statement_csv_rows(rows: list[tuple[Claim, int]]) -> Iterator[list[str]]:
    for claim, expenses in rows:
        yield [
            str(claim.id),
            claim.activity_date.isoformat(),
            text_cell(claim.activity_type.name),
            f"{claim.units:.2f}",
            claim.unit.value,
            pounds(claim.rate_pence),
            pounds(claim.payable_fee_pence),
            "yes" if claim.payment_declined else "no",
            pounds(expenses),
            pounds(claim.payable_fee_pence + expenses),
            claim.state.label,
            text_cell(claim.project.title) if claim.project else "The programme",
            claim.paid_on.isoformat() if claim.paid_on else "",
        ]


@bp.route("/payments/statement")
@permission_required("claims.own")
def statement() -> Response:
    form = StatementForm(request.args)
    default = benefits.tax_year_of(london_today())
    if not form.validate():
        return render("remuneration/statement.html", status=422, form=form, rows=None, title="Your statement")
    start, end = form.period(default)
    form.start.data, form.end.data = start, end
    rows = _statement_rows(current_user.id, start, end)
    if request.args.get("format") == "csv":
        return csv_response(
            f"statement-{start.isoformat()}-to-{end.isoformat()}.csv", STATEMENT_COLUMNS, _statement_csv_rows(rows)
        )
    return render(
        "remuneration/statement.html",
        form=form,
        rows=rows,
        totals=_statement_totals(rows),
        start=start,
        end=end,
        title="Your statement",
    )
