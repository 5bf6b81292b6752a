"""Payment batches: finance groups approved claims, exports them, and marks them paid."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from portal.accounts.models import User
from portal.core import audit, permissions
from portal.core.csv_export import text_cell
from portal.core.errors import NotAllowed, RuleBroken
from portal.core.extensions import db
from portal.core.outbox import insert_sealed
from portal.core.tasks import enqueue_after_commit
from portal.remuneration import runs
from portal.remuneration.models import (
    BatchState,
    Claim,
    ClaimState,
    ExpenseLine,
    PaymentBatch,
    PaymentMethod,
    PaymentPreference,
    PaymentRun,
    RunKind,
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


def every_approved_claim(*, by: User, approved_until: datetime | None) -> list[int]:
    """Every approved claim not in a batch, approved by ``approved_until`` (when finance saw the
    list), except ``by``'s own (nobody pays themselves): one query of ids, whatever their number."""
    if approved_until is None:
        raise RuleBroken("claim_ids", "This page is out of date. Reload it and try again.")
    return list(
        db.session.scalars(
            sa.select(Claim.id)
            .where(
                Claim.state == ClaimState.APPROVED,
                Claim.batch_id.is_(None),
                Claim.claimant_id != by.id,
                Claim.approved_at <= approved_until,
            )
            .order_by(Claim.id)
        )
    )


def create_batch(*, reference: str, claim_ids: list[int], by: User) -> PaymentBatch:
    """Put the chosen approved claims in a new batch, as a set (``runs``): up to
    ``BATCH_INLINE_MAX`` claims here, in the caller's transaction; more in a background run
    (the batch is made now and its claims join it chunk by chunk, shown on its page)."""
    _require_finance(by)
    reference = reference.strip()
    if not reference:
        raise RuleBroken("reference", "Enter a reference for this payment run.")
    if reference_taken(reference):
        raise RuleBroken("reference", DUPLICATE_REFERENCE)
    if not claim_ids:
        raise RuleBroken("claim_ids", "Choose at least one approved claim.")
    ids = sorted(set(claim_ids))
    chosen: list[tuple[int, ClaimState, int, int | None]] = []
    for chunk in runs.chunks(ids):
        rows = db.session.execute(
            sa.select(Claim.id, Claim.state, Claim.claimant_id, Claim.batch_id).where(Claim.id.in_(chunk))
        )
        chosen += [(claim_id, state, claimant_id, batch_id) for claim_id, state, claimant_id, batch_id in rows]
    ready = {claim_id for claim_id, state, _, _ in chosen if state == ClaimState.APPROVED}
    not_ready = [i for i in ids if i not in ready]
    if not_ready:
        raise RuleBroken(
            "claim_ids",
            "These claims are not approved and waiting to be paid: "
            + ", ".join(str(i) for i in not_ready)
            + ". Reload the page and choose again.",
        )
    own = sorted(claim_id for claim_id, _, claimant_id, _ in chosen if claimant_id == by.id)
    if own:
        raise RuleBroken(
            "claim_ids",
            f"{_claims(own)} {'is' if len(own) == 1 else 'are'} your own. Another person in the finance team "
            "must put your claims in a batch: untick them and try again.",
        )
    already = sorted(claim_id for claim_id, _, _, batch_id in chosen if batch_id is not None)
    if already:
        raise RuleBroken(
            "claim_ids", f"{_claims(already)} {'is' if len(already) == 1 else 'are'} already in a payment batch."
        )
    inline = len(ids) <= current_app.config["BATCH_INLINE_MAX"]
    move = runs.batched_move(reference)
    facts: list[runs.Fact] = []
    sealed = None
    if inline:  # read and seal before writing anything: the write lock is held only for the writes
        for chunk in runs.chunks(ids):
            facts += runs.claim_facts(Claim.id.in_(chunk))
        sealed = runs.sealed_emails_now(move, facts)
    batch = PaymentBatch(reference=reference, created_by_id=by.id)
    try:
        # Two people making batches with one reference at the same moment both pass the check
        # above; the unique constraint stops the second, and the savepoint keeps the session
        # usable. Not on SQLite: there a savepoint opened before any write *is* the transaction
        # (pysqlite begins none), and releasing it would commit the batch on its own.
        if db.session.get_bind().dialect.name == "sqlite":
            db.session.add(batch)
            db.session.flush()
        else:
            with db.session.begin_nested():
                db.session.add(batch)
    except IntegrityError:
        raise RuleBroken("reference", DUPLICATE_REFERENCE) from None
    run = PaymentRun(batch_id=batch.id, kind=RunKind.CREATE, by_id=by.id, claims_total=len(ids))
    audit.record("batch.created", batch, actor=by, after={"reference": reference, "claims": ids})
    if not inline:
        run.claim_ids = ids
        db.session.add(run)
        db.session.flush()
        enqueue_after_commit(runs.carry_on, run.id)
        return batch
    moved = runs.move_claims(move, ids, batch=batch, by=by)
    if moved != ids:  # someone changed one of them since the checks above: nothing is kept
        raise RuleBroken("claim_ids", runs.CHANGED_MEANWHILE)
    runs.expire_claims()
    runs.record_moves(move, facts, by=by, note=reference)
    run.claims_done = len(ids)
    _finish(run, sealed)
    return batch


def _finish(run: PaymentRun, sealed: list[dict[str, Any]] | None) -> None:
    """A run done in the request keeps a row only while its emails are still to be written."""
    if sealed is None:
        db.session.add(run)
        db.session.flush()
        runs.emails_later(run)
        return
    insert_sealed(sealed)


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
    busy = runs.unfinished_run(batch.id)
    if busy is not None:
        raise RuleBroken(
            "paid_on",
            "This batch is still being made. Wait until all its claims are in it, then mark it paid."
            if busy.kind == RunKind.CREATE
            else "This batch is being marked paid now. Its page shows how far that has got.",
        )
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
    """Pay every claim in the batch, as a set (``runs``): up to ``BATCH_INLINE_MAX`` claims here,
    in the caller's transaction; more in a background run (the batch becomes paid when its last
    claim is)."""
    check_mark_paid(batch, paid_on=paid_on, payment_reference=payment_reference, by=by, today=today)
    reference = payment_reference.strip()
    total = db.session.scalar(sa.select(sa.func.count()).where(Claim.batch_id == batch.id)) or 0
    run = PaymentRun(
        batch_id=batch.id,
        kind=RunKind.PAY,
        by_id=by.id,
        claims_total=total,
        paid_on=paid_on,
        payment_reference=reference,
    )
    if total > current_app.config["BATCH_INLINE_MAX"]:
        db.session.add(run)
        db.session.flush()
        enqueue_after_commit(runs.carry_on, run.id)
        return
    move = runs.paid_move(paid_on)
    facts = runs.claim_facts(Claim.batch_id == batch.id)
    sealed = runs.sealed_emails_now(move, facts)
    batch.state = BatchState.PAID
    batch.paid_on = paid_on
    batch.payment_reference = reference
    batch.marked_paid_by_id = by.id
    ids = [f.claim_id for f in facts]
    if runs.move_claims(move, ids, batch=batch, by=by) != ids:
        raise RuleBroken("paid_on", runs.CHANGED_MEANWHILE)
    runs.expire_claims()
    runs.record_moves(move, facts, by=by, note=reference)
    run.claims_done = total
    _finish(run, sealed)
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


def payment_method(claim: Claim, preference: PaymentPreference | None) -> PaymentMethod:
    """How a claim is paid: nothing when its fee is declined, else as the claimant chose (bank
    transfer when they never said)."""
    if claim.payment_declined:
        return PaymentMethod.DECLINE
    return preference.method if preference else PaymentMethod.BANK_TRANSFER


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
        method = payment_method(claim, preference)
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
