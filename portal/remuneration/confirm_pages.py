"""The "are you sure?" pages for the claim and batch actions that cannot be taken back: rejecting
or cancelling a claim, and marking a payment batch paid. Each says what will happen and to whom
(``core.confirm``); the views show it before acting."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import url_for
from flask_login import current_user

from portal.core.confirm import Confirmation, counted
from portal.core.extensions import db
from portal.core.formatting import local_date, money
from portal.remuneration.claims import claim_name
from portal.remuneration.models import Claim, PaymentBatch


def _claim_url(claim: Claim) -> str:
    return url_for("remuneration.claim", claim_id=claim.id)


def reject_question(claim: Claim) -> Confirmation:
    return Confirmation(
        title=f"Reject claim {claim.id}?",
        will=[
            f"This will reject claim {claim.id} ({claim_name(claim)}, {money(claim.fee_pence)}) and tell 1 person, "
            f"the claimant {claim.claimant.name}, with the reason you gave.",
            "A rejected claim cannot be sent again, and it will not be paid.",
        ],
        button="Yes, reject the claim",
        action=url_for("remuneration.reject_claim", claim_id=claim.id),
        cancel=_claim_url(claim),
        cancel_label="No, go back to the claim",
    )


def void_question(claim: Claim) -> Confirmation:
    own = claim.claimant_id == current_user.id
    if own:
        will = [f"This will cancel your claim {claim.id} ({claim_name(claim)}). It will not be paid."]
    else:
        will = [
            f"This will cancel claim {claim.id} ({claim_name(claim)}, {money(claim.fee_pence)}) and tell 1 person, "
            f"the claimant {claim.claimant.name}, with the reason you gave. It will not be paid."
        ]
    will.append("A cancelled claim cannot be sent again.")
    return Confirmation(
        title=f"Cancel claim {claim.id}?",
        will=will,
        button="Yes, cancel the claim",
        action=url_for("remuneration.void_claim", claim_id=claim.id),
        cancel=_claim_url(claim),
        cancel_label="No, keep the claim",
    )


def batch_counts(batch: PaymentBatch) -> tuple[int, int, int]:
    """Claims in the batch, the different people they pay, and what they pay in fees (pence)."""
    claims, people, fees = db.session.execute(
        sa.select(
            sa.func.count(Claim.id),
            sa.func.count(sa.distinct(Claim.claimant_id)),
            sa.func.coalesce(sa.func.sum(Claim.fee_pence), 0),
        ).where(Claim.batch_id == batch.id)
    ).one()
    return int(claims), int(people), int(fees)


def mark_paid_question(batch: PaymentBatch, *, paid_on: date, reference: str) -> Confirmation:
    claims, people, fees = batch_counts(batch)
    return Confirmation(
        title=f"Mark batch {batch.reference} paid?",
        will=[
            f"This will mark {counted(claims, 'claim')} paid ({money(fees)} in fees, plus expenses) and email "
            f"{counted(people, 'person', 'people')} to say their money was paid on {local_date(paid_on)}, "
            f"with the payment reference {reference}. (Anyone who switched claim emails off sees it in their "
            "notifications.)",
            "Do this only once the payments have left the account.",
        ],
        button="Yes, mark the batch paid",
        action=url_for("remuneration.mark_batch_paid", batch_id=batch.id),
        cancel=url_for("remuneration.batch", batch_id=batch.id),
        cancel_label="No, go back to the batch",
    )
