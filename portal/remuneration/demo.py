"""Remuneration demo data: the rate card, and member@demo.test's claims in every state."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from portal.accounts.models import User
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.remuneration import batches, claims, rates
from portal.remuneration.models import (
    ActivityType,
    Claim,
    ExpenseCategory,
    PaymentMethod,
    PaymentPreference,
    Unit,
)
from portal.teams.models import Project, TeamMembership

RATE_CHANGE = date(2025, 12, 16)  # every rate went up 10% on this day
RATE_CARD = [
    # name, unit, pence before the change, pence from the change
    ("Meeting", Unit.HOUR, 2000, 2200),
    ("Workshop", Unit.HALF_DAY, 7500, 8250),
    ("Panel review", Unit.DAY, 15000, 16500),
    ("Storytelling interview", Unit.FIXED_FEE, 5000, 5500),
    ("Preparation", Unit.HOUR, 2000, 2200),
    ("Other", Unit.HOUR, 2000, 2200),
]


def seed_rate_card(admin: User) -> int:
    created = 0
    for name, unit, before, after in RATE_CARD:
        activity = db.session.scalar(sa.select(ActivityType).where(ActivityType.name == name))
        if activity is None:
            activity = rates.add_activity_type(name=name, unit=unit, by=admin)
            rates.set_rate(activity, amount_pence=before, effective_from=date(2025, 4, 1), by=admin)
            rates.set_rate(activity, amount_pence=after, effective_from=RATE_CHANGE, by=admin)
            created += 3
    return created


def seed_claims(people: dict[str, User]) -> int:
    member, lead = people["member@demo.test"], people["lead@demo.test"]
    staff, finance = people["staff@demo.test"], people["finance@demo.test"]
    if db.session.scalar(sa.select(Claim.id).where(Claim.claimant_id == member.id).limit(1)):
        return 0
    if db.session.get(PaymentPreference, member.id) is None:
        db.session.add(
            PaymentPreference(
                user_id=member.id,
                method=PaymentMethod.VOUCHER,
                payee_reference="VOUCHER-LM-01",
                weekly_limit_pence=19600,
            )
        )
    project = db.session.scalar(
        sa.select(Project).join(TeamMembership).where(TeamMembership.user_id == member.id).limit(1)
    )
    activity = {a.name: a for a in db.session.scalars(sa.select(ActivityType))}
    today = london_today()
    now = utcnow()
    made: dict[str, Claim] = {}

    def claim(key: str, name: str, days_ago: int, units: str, on_project: bool = False, notes: str = "") -> Claim:
        details = claims.ClaimDetails(
            activity[name].id,
            today - timedelta(days=days_ago),
            Decimal(units),
            project.id if on_project and project else None,
            notes,
        )
        made[key] = claims.create_claim(member, details, today=today)
        return made[key]

    claim("draft", "Preparation", 1, "1.5", notes="Reading papers before the panel.")
    claim("submitted", "Meeting", 3, "2", on_project=True, notes="Project steering group.")
    claim("confirmed", "Workshop", 6, "1", on_project=True, notes="Co-design workshop at the café.")
    claim("approved", "Meeting", 10, "1", notes="Programme advisory group.")
    claim("in_batch", "Storytelling interview", 20, "1", notes="Interview for the story library.")
    claim("paid", "Workshop", 45, "2", notes="Two half days on the evaluation framework.")
    claim("queried", "Meeting", 12, "3", notes="Meeting.")
    claim("rejected", "Meeting", 14, "2", notes="Entered twice by mistake.")
    claim("voided", "Other", 16, "1", notes="Cancelled session.")
    claims.add_expense(
        made["paid"],
        by=member,
        category=ExpenseCategory.TRAVEL,
        description="Bus fares",
        amount_pence=640,
        miles=None,
        mileage_rate_pence=45,
    )
    claims.add_expense(
        made["confirmed"],
        by=member,
        category=ExpenseCategory.MILEAGE,
        description="Lift from my support worker",
        amount_pence=None,
        miles=Decimal("14"),
        mileage_rate_pence=45,
    )
    for key in ("submitted", "confirmed", "approved", "in_batch", "paid", "queried", "rejected"):
        claims.submit_claim(made[key], by=member, now=now, choice="as_is")
    claims.confirm_claim(made["confirmed"], by=lead, now=now)
    for key in ("approved", "in_batch", "paid"):
        claims.approve_claim(made[key], by=staff, now=now)
    claims.query_claim(made["queried"], by=staff, question="Which meeting was this, and who else was there?")
    claims.reject_claim(made["rejected"], by=staff, reason="This duplicates another claim for the same meeting.")
    claims.void_claim(made["voided"], by=member)
    paid_batch = batches.create_batch(reference="PAY-DEMO-1", claim_ids=[made["paid"].id], by=finance)
    batches.mark_batch_paid(
        paid_batch, paid_on=today - timedelta(days=2), payment_reference="BACS-DEMO-0001", by=finance, today=today
    )
    batches.create_batch(reference="PAY-DEMO-2", claim_ids=[made["in_batch"].id], by=finance)
    return len(made)
