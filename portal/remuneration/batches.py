"""Payment batches: finance groups approved claims, exports them, and marks them paid."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from portal.accounts.models import User
from portal.core import audit, permissions
from portal.core.csv_export import text_cell
from portal.core.errors import NotAllowed, RuleBroken
from portal.core.extensions import db
from portal.remuneration import claims as claim_rules
from portal.remuneration.models import (
    BatchState,
    Claim,
    ClaimState,
    ExpenseLine,
    PaymentBatch,
    PaymentMethod,
    PaymentPreference,
)

DUPLICATE_REFERENCE = "A payment batch already has this reference. Choose another."
CSV_COLUMNS = [
    "claim_id",
    "payee_name",
    "payee_reference",
    "payment_method",
    "activity_date",
    "activity_type",
    "units",
    "unit",
    "rate",
    "fee",
    "expenses",
    "total",
    "project_or_cost_code",
    "submitted_at",
    "approved_by",
    "approved_at",
    "batch_reference",
]


def _require_finance(user: User) -> None:
    if not permissions.can(user, "payments.batches"):
        raise NotAllowed("finance only")


def create_batch(*, reference: str, claim_ids: list[int], by: User) -> PaymentBatch:
    _require_finance(by)
    reference = reference.strip()
    if not reference:
        raise RuleBroken("reference", "Enter a reference for this payment run.")
    if reference_taken(reference):
        raise RuleBroken("reference", DUPLICATE_REFERENCE)
    if not claim_ids:
        raise RuleBroken("claim_ids", "Choose at least one approved claim.")
    chosen = list(db.session.scalars(sa.select(Claim).where(Claim.id.in_(claim_ids)).order_by(Claim.id)))
    not_ready = sorted(set(claim_ids) - {c.id for c in chosen if c.state == ClaimState.APPROVED})
    if not_ready:
        raise RuleBroken(
            "claim_ids",
            "These claims are not approved and waiting to be paid: "
            + ", ".join(str(i) for i in not_ready)
            + ". Reload the page and choose again.",
        )
    own = [c.id for c in chosen if c.claimant_id == by.id]
    if own:
        raise RuleBroken(
            "claim_ids",
            f"{_claims(own)} {'is' if len(own) == 1 else 'are'} your own. Another person in the finance team "
            "must put your claims in a batch: untick them and try again.",
        )
    batch = PaymentBatch(reference=reference, created_by_id=by.id)
    try:
        # Two people making batches with one reference at the same moment both pass the check
        # above; the unique constraint stops the second, and the savepoint keeps the session usable.
        with db.session.begin_nested():
            db.session.add(batch)
    except IntegrityError:
        raise RuleBroken("reference", DUPLICATE_REFERENCE) from None
    for claim in chosen:
        claim_rules.move_into_batch(claim, by=by, batch_id=batch.id, reference=reference)
    audit.record("batch.created", batch, actor=by, after={"reference": reference, "claims": [c.id for c in chosen]})
    return batch


def reference_taken(reference: str) -> bool:
    return db.session.scalar(sa.select(PaymentBatch.id).where(PaymentBatch.reference == reference)) is not None


def _claims(ids: list[int]) -> str:
    return ("Claim " if len(ids) == 1 else "Claims ") + ", ".join(str(i) for i in ids)


def own_claims_in(batch: PaymentBatch, user: User) -> list[int]:
    """The claims in the batch that are the person's own (they may not mark the batch paid)."""
    return list(
        db.session.scalars(
            sa.select(Claim.id).where(Claim.batch_id == batch.id, Claim.claimant_id == user.id).order_by(Claim.id)
        )
    )


def check_mark_paid(batch: PaymentBatch, *, paid_on: date, payment_reference: str, by: User, today: date) -> None:
    """What marking a batch paid asks, checked before its confirmation page and again on marking it."""
    _require_finance(by)
    if batch.state == BatchState.PAID:
        raise RuleBroken("paid_on", "This batch is already marked as paid.")
    own = own_claims_in(batch, by)
    if own:
        raise RuleBroken(
            "paid_on",
            f"This batch holds your own claim ({_claims(own).lower()}). "
            "Another person in the finance team must mark it paid.",
        )
    if paid_on > today:
        raise RuleBroken("paid_on", "The payment date must be today or in the past.")
    if not payment_reference.strip():
        raise RuleBroken("payment_reference", "Enter the payment reference from the finance system.")


def mark_batch_paid(batch: PaymentBatch, *, paid_on: date, payment_reference: str, by: User, today: date) -> None:
    check_mark_paid(batch, paid_on=paid_on, payment_reference=payment_reference, by=by, today=today)
    batch.state = BatchState.PAID
    batch.paid_on = paid_on
    batch.payment_reference = payment_reference.strip()
    batch.marked_paid_by_id = by.id
    for claim in db.session.scalars(sa.select(Claim).where(Claim.batch_id == batch.id)):
        claim_rules.mark_paid(claim, by=by, paid_on=paid_on, reference=batch.payment_reference)
    audit.record(
        "batch.paid",
        batch,
        actor=by,
        after={"paid_on": paid_on.isoformat(), "payment_reference": batch.payment_reference},
    )


def pounds(pence: int) -> str:
    """150.00 for 15000 pence: the finance system's format (no £, no thousands separator)."""
    sign = "-" if pence < 0 else ""
    whole, part = divmod(abs(pence), 100)
    return f"{sign}{whole}.{part:02d}"


def batch_rows(batch: PaymentBatch) -> Iterator[list[str]]:
    """One row per claim; streamed in chunks so a large batch never loads at once."""
    expenses = (  # the batch's expenses only, not every expense line there is
        sa.select(ExpenseLine.claim_id, sa.func.sum(ExpenseLine.amount_pence).label("total"))
        .join(Claim, Claim.id == ExpenseLine.claim_id)
        .where(Claim.batch_id == batch.id)
        .group_by(ExpenseLine.claim_id)
        .subquery()
    )
    query = (
        sa.select(Claim, PaymentPreference, sa.func.coalesce(expenses.c.total, 0))
        .outerjoin(PaymentPreference, PaymentPreference.user_id == Claim.claimant_id)
        .outerjoin(expenses, expenses.c.claim_id == Claim.id)
        .where(Claim.batch_id == batch.id)
        .options(
            joinedload(Claim.claimant),
            joinedload(Claim.activity_type),
            joinedload(Claim.project),
            joinedload(Claim.approved_by),
        )
        .order_by(Claim.id)
        .execution_options(yield_per=500)
    )
    for claim, preference, expenses_pence in db.session.execute(query):
        method = (
            PaymentMethod.DECLINE
            if claim.payment_declined
            else preference.method
            if preference
            else PaymentMethod.BANK_TRANSFER
        )
        fee = claim.payable_fee_pence
        yield [
            str(claim.id),
            text_cell(claim.claimant.name),
            text_cell(preference.payee_reference) if preference else "",
            method.value,
            claim.activity_date.isoformat(),
            text_cell(claim.activity_type.name),
            f"{claim.units:.2f}",
            claim.unit.value,
            pounds(claim.rate_pence),
            pounds(fee),
            pounds(int(expenses_pence)),
            pounds(fee + int(expenses_pence)),
            text_cell(claim.project.title if claim.project else claim.cost_code),
            claim.submitted_at.isoformat() if claim.submitted_at else "",
            text_cell(claim.approved_by.name) if claim.approved_by else "",
            claim.approved_at.isoformat() if claim.approved_at else "",
            batch.reference,
        ]
