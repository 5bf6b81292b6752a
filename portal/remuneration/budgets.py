"""What a project has spent: remuneration charged to it (the grants issue adds its own expenses),
and the lock that keeps simultaneous approvals within the award."""

from __future__ import annotations

import sqlalchemy as sa

from portal.core.extensions import db
from portal.remuneration.models import COMMITTED_STATES, Claim, ExpenseLine
from portal.teams.models import Project


def lock_budget(project_id: int) -> Project:
    """The project, read afresh, with its budget row locked until the transaction ends.

    Approving a claim reads what the project has spent and then adds to it; two approvals doing
    that at the same moment could each see room for themselves and together overspend the award.
    On PostgreSQL this is ``SELECT ... FOR UPDATE``: a second approval on the same project waits
    here until the first commits, then reads the total that includes it. SQLite has no row locks
    and ignores ``FOR UPDATE``; a write to the row takes its single database write lock now (as
    ``BEGIN IMMEDIATE`` would, but also inside a transaction that has already begun), so there
    the approvals queue up on the whole database instead.
    """
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(
            sa.update(Project)
            .where(Project.id == project_id)
            .values(award_pence=Project.award_pence)
            .execution_options(synchronize_session=False)
        )
    return db.session.scalars(
        sa.select(Project).where(Project.id == project_id).with_for_update().execution_options(populate_existing=True)
    ).one()


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
