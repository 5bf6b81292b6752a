"""Payment reminders, as a scheduled job (see ``portal.core.schedule``):

- a draft claim not sent 7 days after it was started: its claimant;
- a claim waiting for its project lead's confirmation longer than ``CLAIM_CONFIRM_TARGET_DAYS``:
  the lead, once per claim;
- a claim waiting for approval longer than ``CLAIM_APPROVAL_TARGET_DAYS``: staff, one reminder
  a day naming the claims that passed the target since the last (each claim once);
- a payment batch not marked paid ``BATCH_PAID_TARGET_DAYS`` after it was made: finance, once.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from portal.accounts.models import Role, User
from portal.core.extensions import db
from portal.core.formatting import LONDON, local_date
from portal.core.schedule import job
from portal.notifications.reminders import record_once, remind
from portal.remuneration.claims import claim_name
from portal.remuneration.dashboards import confirmed_by_another_lead
from portal.remuneration.models import BatchState, Claim, ClaimState, PaymentBatch
from portal.teams.models import TeamMembership, TeamRole

DRAFT_DAYS = 7


def _people(*roles: Role) -> list[User]:
    return list(
        db.session.scalars(sa.select(User).where(User.role.in_(roles), User.deactivated_at.is_(None)).order_by(User.id))
    )


def _drafts(now: datetime) -> int:
    sent = 0
    for claim in db.session.scalars(
        sa.select(Claim)
        .options(joinedload(Claim.activity_type), joinedload(Claim.claimant))
        .where(Claim.state == ClaimState.DRAFT, Claim.created_at <= now - timedelta(days=DRAFT_DAYS))
        .order_by(Claim.id)
    ):
        sent += remind(
            claim.claimant,
            "claim_reminder",
            key=f"claim:{claim.id}",
            occasion="draft-7-days",
            subject=f"Your claim '{claim_name(claim)}' is not sent yet",
            body=f"You started the claim '{claim_name(claim)}' on {local_date(claim.created_at)} but have not "
            "sent it. Send it when it is ready, so that it can be paid.",
            url_path=f"/claims/{claim.id}",
        )
    return sent


def _waiting_for_leads(now: datetime, target_days: int) -> int:
    sent = 0
    rows = db.session.execute(
        sa.select(Claim, User)
        .options(joinedload(Claim.activity_type), joinedload(Claim.claimant))
        .join(
            TeamMembership,
            sa.and_(TeamMembership.project_id == Claim.project_id, TeamMembership.role == TeamRole.LEAD),
        )
        .join(User, User.id == TeamMembership.user_id)
        .where(
            Claim.state == ClaimState.SUBMITTED,
            Claim.submitted_at <= now - timedelta(days=target_days),
            TeamMembership.user_id != Claim.claimant_id,
        )
        .order_by(Claim.id)
    )
    for claim, lead in rows:
        sent += remind(
            lead,
            "claim_reminder",
            key=f"claim:{claim.id}",
            occasion="confirmation-target",
            subject=f"{claim.claimant.name}'s claim '{claim_name(claim)}' is waiting for you to confirm it",
            body=f"{claim.claimant.name} sent the claim '{claim_name(claim)}' on {local_date(claim.submitted_at)}. "
            f"It has waited more than {target_days} days for you, as the project's lead, to confirm it.",
            url_path="/claims/confirmations",
        )
    return sent


def _waiting_for_staff(now: datetime, target_days: int) -> int:
    cutoff = now - timedelta(days=target_days)
    claims = list(
        db.session.scalars(
            sa.select(Claim)
            .options(joinedload(Claim.activity_type), joinedload(Claim.claimant))
            .where(
                sa.or_(
                    sa.and_(Claim.state == ClaimState.CONFIRMED, Claim.confirmed_at <= cutoff),
                    sa.and_(
                        Claim.state == ClaimState.SUBMITTED,
                        Claim.submitted_at <= cutoff,
                        ~confirmed_by_another_lead(),
                    ),
                )
            )
            .order_by(Claim.submitted_at, Claim.id)
            .limit(500)
        ).unique()
    )
    new = [c for c in claims if record_once("claim_reminder", f"claim:{c.id}", "staff", "approval-target")]
    if not new:
        return 0
    today = now.astimezone(LONDON).date()
    names = ", ".join(f"'{claim_name(c)}' ({c.claimant.name})" for c in new[:5])
    more = f" and {len(new) - 5} more" if len(new) > 5 else ""
    count = f"{len(new)} claim{'s have' if len(new) != 1 else ' has'}"
    sent = 0
    for person in _people(Role.STAFF, Role.FINANCE, Role.ADMIN):
        sent += remind(
            person,
            "claim_reminder",
            key=f"claims-waiting:{today.isoformat()}",
            occasion="approval-target",
            subject=f"{count} waited more than {target_days} days for approval",
            body=f"{count} waited more than {target_days} days for approval: {names}{more}.",
            url_path="/claims/queue",
        )
    return sent


def _unpaid_batches(now: datetime, target_days: int) -> int:
    sent = 0
    batches = list(
        db.session.scalars(
            sa.select(PaymentBatch)
            .where(
                PaymentBatch.state == BatchState.AWAITING_PAYMENT,
                PaymentBatch.created_at <= now - timedelta(days=target_days),
            )
            .order_by(PaymentBatch.id)
        )
    )
    finance = _people(Role.FINANCE, Role.ADMIN) if batches else []
    for batch in batches:
        for person in finance:
            sent += remind(
                person,
                "payment_reminder",
                key=f"batch:{batch.id}",
                occasion="not-paid-target",
                subject=f"Payment batch '{batch.reference}' is not marked paid after {target_days} days",
                body=f"The payment batch '{batch.reference}' was made on {local_date(batch.created_at)} and is "
                "still waiting to be marked paid. People are waiting for this money: pay it, or say why not.",
                url_path=f"/finance/batches/{batch.id}",
            )
    return sent


@job("payment-reminders", "Remind people of claims and payments waiting", daily_at=time(8, 30))
def payment_reminders(now: datetime) -> str:
    config = current_app.config
    drafts = _drafts(now)
    leads = _waiting_for_leads(now, config["CLAIM_CONFIRM_TARGET_DAYS"])
    staff = _waiting_for_staff(now, config["CLAIM_APPROVAL_TARGET_DAYS"])
    batches = _unpaid_batches(now, config["BATCH_PAID_TARGET_DAYS"])
    return f"Sent {drafts} draft, {leads} confirmation, {staff} approval and {batches} batch reminders."
