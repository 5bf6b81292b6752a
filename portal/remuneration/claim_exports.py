"""Finance's spreadsheet of claims: every claim but drafts, or those in one state and dates.

Streamed a step at a time (``core.csv_export.key_batches``): the claims' primary key is walked in
steps of ``STEP``, the state and dates decided on beside it, and each step's kept claims loaded
in one query with their people and expenses, so a million claims cost a million rows' work and
never sit in memory together (the session holds what it loaded weakly: each step's claims go
when the next step is read).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from portal.core.csv_export import key_batches, text_cell
from portal.core.extensions import db
from portal.remuneration.batches import payment_method, pounds
from portal.remuneration.models import Claim, ClaimState, ExpenseLine, PaymentBatch, PaymentPreference

STEP = 1000
CLAIM_EXPORT_COLUMNS = [
    "claim_id",
    "payee_name",
    "payee_reference",
    "payment_method",
    "state",
    "activity_date",
    "activity_type",
    "units",
    "unit",
    "rate",
    "full_fee",
    "fee",
    "payment_declined",
    "expenses",
    "total",
    "project_or_cost_code",
    "submitted_at",
    "approved_by",
    "approved_at",
    "batch_reference",
    "paid_on",
]


def _chooser(state: ClaimState | None, start: date | None, end: date | None) -> Any:
    def keep(row: sa.Row[Any]) -> bool:
        return (
            row.state != ClaimState.DRAFT
            and (state is None or row.state == state)
            and (start is None or row.activity_date >= start)
            and (end is None or row.activity_date <= end)
        )

    return keep


def _step(ids: list[int]) -> sa.Select[Claim, PaymentPreference, Any, str]:
    expenses = (
        sa.select(ExpenseLine.claim_id, sa.func.sum(ExpenseLine.amount_pence).label("total"))
        .where(ExpenseLine.claim_id.in_(ids))
        .group_by(ExpenseLine.claim_id)
        .subquery()
    )
    return (
        sa.select(Claim, PaymentPreference, sa.func.coalesce(expenses.c.total, 0), PaymentBatch.reference)
        .outerjoin(PaymentPreference, PaymentPreference.user_id == Claim.claimant_id)
        .outerjoin(expenses, expenses.c.claim_id == Claim.id)
        .outerjoin(PaymentBatch, PaymentBatch.id == Claim.batch_id)
        .where(Claim.id.in_(ids))
        .options(
            joinedload(Claim.claimant),
            joinedload(Claim.activity_type),
            joinedload(Claim.project),
            joinedload(Claim.approved_by),
        )
        .order_by(Claim.id)
    )


def claim_export_rows(state: ClaimState | None, start: date | None, end: date | None) -> Iterator[list[str]]:
    keep = _chooser(state, start, end)
    for ids in key_batches(Claim.id, (Claim.state, Claim.activity_date), keep=keep, size=STEP):
        for claim, preference, expenses_pence, batch_reference in db.session.execute(_step(ids)):
            if not keep(claim):  # changed between the two reads
                continue
            method = payment_method(claim, preference)
            fee, expenses_total = claim.payable_fee_pence, int(expenses_pence)
            yield [
                str(claim.id),
                text_cell(claim.claimant.name),
                text_cell(preference.payee_reference) if preference else "",
                method.value,
                claim.state.label,
                claim.activity_date.isoformat(),
                text_cell(claim.activity_type.name),
                f"{claim.units:.2f}",
                claim.unit.value,
                pounds(claim.rate_pence),
                pounds(claim.full_fee_pence),
                pounds(fee),
                "yes" if claim.payment_declined else "no",
                pounds(expenses_total),
                pounds(fee + expenses_total),
                text_cell(claim.project.title if claim.project else claim.cost_code),
                claim.submitted_at.isoformat() if claim.submitted_at else "",
                text_cell(claim.approved_by.name) if claim.approved_by else "",
                claim.approved_at.isoformat() if claim.approved_at else "",
                text_cell(batch_reference or ""),
                claim.paid_on.isoformat() if claim.paid_on else "",
            ]
