"""The retention schedule's rules for payments (``core/retention.py``).

A draft claim nobody has changed for the retention period is deleted with its expense lines
and their receipts. Audit entries about money (claims, batches, rates, payment preferences and
payee references) are kept for the longer period HMRC asks for."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from portal.core import uploads
from portal.core.extensions import db
from portal.core.retention import keep_audit_longer, rowcount, rule
from portal.core.tasks import enqueue_after_commit, task
from portal.remuneration.models import Claim, ClaimState, ExpenseLine

RECEIPTS = "receipts"  # the uploads folder (as in claim_views)

keep_audit_longer("claim.", "batch.", "rate.", "activity_type.", "payment_preferences.", "payee_reference.")


@rule("draft claims", "RETENTION_DRAFT_CLAIM_DAYS")
def draft_claims(cutoff: datetime) -> int:
    untouched = sa.select(Claim.id).where(Claim.state == ClaimState.DRAFT, Claim.updated_at < cutoff)
    receipts = list(
        db.session.scalars(
            sa.select(ExpenseLine.receipt_stored_name).where(
                ExpenseLine.claim_id.in_(untouched), ExpenseLine.receipt_stored_name.is_not(None)
            )
        )
    )
    db.session.execute(sa.delete(ExpenseLine).where(ExpenseLine.claim_id.in_(untouched)))
    removed = rowcount(
        db.session.execute(
            sa.delete(Claim).where(Claim.state == ClaimState.DRAFT, Claim.updated_at < cutoff),
            execution_options={"synchronize_session": False},
        )
    )
    if receipts:
        enqueue_after_commit(remove_receipts, receipts)  # the files go only once the rows have
    return removed


@task()
def remove_receipts(stored_names: list[str], task: Any = None) -> None:
    for name in stored_names:
        uploads.remove(RECEIPTS, name)
