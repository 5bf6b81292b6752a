"""What remuneration holds about a person (claims with their expense lines, payment preferences
and benefits limits) and how "Erase me" treats it. Claims are money records the law keeps (six
years, for the tax authority), so they stay, with their dates, activities and amounts, under the
reference that replaces the person's name; their own notes go, and so do draft claims never sent,
the payment preferences and the earnings limits. Nobody is erased while a claim is still on its
way to being paid: that would leave money owed to no one."""

from __future__ import annotations

import sqlalchemy as sa

from portal.accounts.models import User
from portal.core.extensions import db
from portal.core.my_data import Row, StoredFile, register_erase_check, register_eraser, register_export
from portal.remuneration.models import ActivityType, Claim, ClaimState, ExpenseLine, PaymentPreference

RECEIPTS = "receipts"  # the upload kind receipts are stored under (claim_views)
ON_THE_WAY = (ClaimState.SUBMITTED, ClaimState.CONFIRMED, ClaimState.APPROVED, ClaimState.IN_BATCH, ClaimState.QUERIED)


@register_export(
    "claims", "your claims for payment: activity, date, fee and expenses in pence, and where each got to", tabular=True
)
def claims(person: User) -> list[Row]:
    found = db.session.execute(
        sa.select(Claim, ActivityType.name)
        .join(ActivityType, Claim.activity_type_id == ActivityType.id)
        .where(Claim.claimant_id == person.id)
        .order_by(Claim.activity_date, Claim.id)
    ).all()
    lines: dict[int, list[ExpenseLine]] = {}
    for line in db.session.scalars(
        sa.select(ExpenseLine).where(ExpenseLine.claim_id.in_([c.id for c, _ in found])).order_by(ExpenseLine.id)
    ):
        lines.setdefault(line.claim_id, []).append(line)
    return [
        {
            "id": c.id,
            "activity": activity,
            "activity_date": c.activity_date,
            "units": c.units,
            "unit": c.unit,
            "rate_pence": c.rate_pence,
            "fee_pence": c.fee_pence,
            "payment_declined": c.payment_declined,
            "expenses_pence": sum(line.amount_pence for line in lines.get(c.id, [])),
            "expenses": [
                {"category": line.category, "description": line.description, "amount_pence": line.amount_pence}
                for line in lines.get(c.id, [])
            ],
            "project_id": c.project_id,
            "cost_code": c.cost_code,
            "notes": c.notes,
            "state": c.state,
            "question_to_you": c.question,
            "decision_reason": c.decision_reason,
            "submitted_at": c.submitted_at,
            "approved_at": c.approved_at,
            "paid_on": c.paid_on,
        }
        for c, activity in found
    ]


@register_export("payment_preferences", "how you chose to be paid, and the earnings limits you set for your benefits")
def payment_preferences(person: User) -> list[Row]:
    found = db.session.get(PaymentPreference, person.id)
    if found is None:
        return []
    return [
        {
            "method": found.method,
            "payee_reference": found.payee_reference,
            "charity_name": found.charity_name,
            "weekly_limit_pence": found.weekly_limit_pence,
            "monthly_limit_pence": found.monthly_limit_pence,
            "updated_at": found.updated_at,
        }
    ]


@register_erase_check
def no_claim_waiting(person: User) -> str:
    waiting = db.session.scalar(
        sa.select(sa.func.count()).select_from(Claim).where(Claim.claimant_id == person.id, Claim.state.in_(ON_THE_WAY))
    )
    if not waiting:
        return ""
    claims_text = "1 claim is" if waiting == 1 else f"{waiting} claims are"
    return (
        f"{claims_text} still on the way to being paid. Wait until it is paid, or cancel it on your claims "
        "page, then erase your data."
    )


@register_eraser("claims", order=50)
def erase_claims(person: User, reference: str) -> list[StoredFile]:
    drafts = sa.select(Claim.id).where(Claim.claimant_id == person.id, Claim.state == ClaimState.DRAFT)
    receipts = list(
        db.session.scalars(
            sa.select(ExpenseLine.receipt_stored_name).where(
                ExpenseLine.claim_id.in_(drafts), ExpenseLine.receipt_stored_name.is_not(None)
            )
        )
    )
    db.session.execute(sa.delete(ExpenseLine).where(ExpenseLine.claim_id.in_(drafts)))
    db.session.execute(sa.delete(Claim).where(Claim.claimant_id == person.id, Claim.state == ClaimState.DRAFT))
    db.session.execute(sa.update(Claim).where(Claim.claimant_id == person.id).values(notes=""))
    db.session.execute(sa.delete(PaymentPreference).where(PaymentPreference.user_id == person.id))
    return [(RECEIPTS, name) for name in receipts if name]
