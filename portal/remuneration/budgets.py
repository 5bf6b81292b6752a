"""What a project has spent: remuneration charged to it (the grants issue adds its own expenses)."""

from __future__ import annotations

import sqlalchemy as sa

from portal.core.extensions import db
from portal.remuneration.models import COMMITTED_STATES, Claim, ExpenseLine


def project_spend_pence(project_id: int) -> int:
    """Approved, batched and paid claims: payable fees plus expenses."""
    fees = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Claim.fee_pence), 0)).where(
            Claim.project_id == project_id, Claim.state.in_(COMMITTED_STATES), Claim.payment_declined.is_(False)
        )
    )
    expenses = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(ExpenseLine.amount_pence), 0))
        .join(Claim)
        .where(Claim.project_id == project_id, Claim.state.in_(COMMITTED_STATES))
    )
    return int(fees or 0) + int(expenses or 0)
