"""Claims for paid time: making them, and every move through the workflow.

Each move checks who may make it (``portal.permissions``), checks the state table
(``models.TRANSITIONS``), records an audit entry and tells the claimant through the outbox,
all in the caller's transaction. ``Claim.version`` makes a second, simultaneous move on the
same claim fail at commit (``StaleDataError``) instead of applying twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from flask import current_app

from portal.accounts.models import User
from portal.accounts.verification import require_verified
from portal.core import audit, permissions
from portal.core.db import utcnow
from portal.core.errors import NotAllowed, RuleBroken
from portal.core.extensions import db
from portal.core.formatting import money
from portal.notifications.service import Group, notify
from portal.remuneration import benefits, budgets
from portal.remuneration.models import (
    TRANSITIONS,
    ActivityType,
    Claim,
    ClaimState,
    ExpenseCategory,
    ExpenseLine,
    PaymentMethod,
    PaymentPreference,
    Unit,
)
from portal.remuneration.rates import rate_in_force
from portal.teams.access import team_role
from portal.teams.models import Project, TeamMembership

PROGRAMME_COST_CODE = "PROGRAMME"
MAX_UNITS = {Unit.HOUR: Decimal(24), Unit.HALF_DAY: Decimal(2), Unit.DAY: Decimal(31), Unit.FIXED_FEE: Decimal(10)}
MAX_EXPENSE_PENCE = 5_000_00


def pence(amount: Decimal) -> int:
    """Round an exact amount of pence half up to a whole penny."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def fee_for(units: Decimal, rate_pence: int) -> int:
    return pence(units * rate_pence)


@dataclass(frozen=True)
class ClaimDetails:
    activity_type_id: int
    activity_date: date
    units: Decimal
    project_id: int | None = None
    notes: str = ""


def claimant_projects(user: User) -> list[Project]:
    return list(
        db.session.scalars(
            sa.select(Project).join(TeamMembership).where(TeamMembership.user_id == user.id).order_by(Project.title)
        )
    )


def outside_project_dates(project: Project, day: date) -> str | None:
    """When the project runs, if ``day`` is outside it (nothing can be charged to a project
    before it starts or after it ends); None when the day is within its dates."""
    if (project.start_date is None or day >= project.start_date) and (
        project.end_date is None or day <= project.end_date
    ):
        return None
    if project.start_date and project.end_date:
        runs = f"runs from {project.start_date:%-d %B %Y} to {project.end_date:%-d %B %Y}"
    elif project.start_date:
        runs = f"starts on {project.start_date:%-d %B %Y}"
    else:
        assert project.end_date is not None
        runs = f"ended on {project.end_date:%-d %B %Y}"
    return f"{project.title} {runs}."


OUTSIDE_ADVICE = " Choose a date in that time, or claim for the programme instead."


def _check_units(units: Decimal, unit: Unit) -> None:
    if units <= 0:
        raise RuleBroken("units", f"Enter how many {unit.label}s, more than 0.")
    if units > MAX_UNITS[unit]:
        raise RuleBroken("units", f"Enter no more than {MAX_UNITS[unit]} {unit.label}s for one claim.")
    if units != units.quantize(Decimal("0.01")):
        raise RuleBroken("units", "Enter units with no more than two decimal places, like 1.5.")


def _apply(claim: Claim, details: ClaimDetails, claimant: User, today: date) -> None:
    activity = db.session.get(ActivityType, details.activity_type_id)
    if activity is None or not activity.is_active:
        raise RuleBroken("activity_type_id", "Choose the kind of activity.")
    if details.activity_date > today:
        raise RuleBroken("activity_date", "The activity date must be today or in the past.")
    _check_units(details.units, activity.unit)
    rate = rate_in_force(activity.id, details.activity_date)
    if rate is None:
        raise RuleBroken("activity_date", "There is no rate for this activity on that date. Ask the programme team.")
    if details.project_id is not None:
        project = db.session.get(Project, details.project_id)
        if project is None or team_role(claimant, project) is None:
            raise RuleBroken("project_id", "Choose one of your own projects, or the programme.")
        if outside := outside_project_dates(project, details.activity_date):
            raise RuleBroken("activity_date", outside + OUTSIDE_ADVICE)
    claim.activity_type_id = activity.id
    claim.activity_date = details.activity_date
    claim.units = details.units
    claim.unit = activity.unit
    claim.rate_pence = rate.amount_pence
    claim.full_fee_pence = claim.fee_pence = fee_for(details.units, rate.amount_pence)
    claim.project_id = details.project_id
    claim.cost_code = "" if details.project_id else PROGRAMME_COST_CODE
    claim.notes = details.notes.strip()


@dataclass(frozen=True)
class Repriced:
    """A draft whose rate changed between starting it and sending it."""

    activity: str
    old_rate_pence: int
    new_rate_pence: int
    total_pence: int  # the new fee plus the claim's expenses

    @property
    def message(self) -> str:
        return (
            f"The rate for {self.activity} changed from {money(self.old_rate_pence)} to "
            f"{money(self.new_rate_pence)} since you started this claim; the total is now {money(self.total_pence)}."
        )


def reprice(claim: Claim, *, by: User) -> Repriced | None:
    """Price a draft afresh at the rate in force for its activity date now, as it is sent.

    The activity date still decides which rate applies; what can differ from when the draft was
    made is the rate card itself (a rate added from an earlier date, or a rate's amount
    corrected). Only drafts: once sent, a claim keeps its rate, whatever changes later.
    """
    if claim.state != ClaimState.DRAFT:
        return None
    rate = rate_in_force(claim.activity_type_id, claim.activity_date)
    if rate is None:
        raise RuleBroken(
            "state",
            "There is no longer a rate for this activity on that date. Change the claim, or ask the programme team.",
        )
    if rate.amount_pence == claim.rate_pence:
        return None
    before = {"rate_pence": claim.rate_pence, "full_fee_pence": claim.full_fee_pence}
    repriced = Repriced(
        db.session.get_one(ActivityType, claim.activity_type_id).name,
        claim.rate_pence,
        rate.amount_pence,
        fee_for(claim.units, rate.amount_pence) + expenses_pence(claim),
    )
    claim.rate_pence = rate.amount_pence
    claim.full_fee_pence = claim.fee_pence = fee_for(claim.units, rate.amount_pence)
    audit.record(
        "claim.repriced",
        claim,
        actor=by,
        before=before,
        after={"rate_pence": claim.rate_pence, "full_fee_pence": claim.full_fee_pence},
        note=repriced.message,
    )
    return repriced


def create_claim(claimant: User, details: ClaimDetails, *, today: date) -> Claim:
    claim = Claim(claimant_id=claimant.id, state=ClaimState.DRAFT, payment_declined=False)
    _apply(claim, details, claimant, today)
    db.session.add(claim)
    db.session.flush()
    return claim


def update_claim(claim: Claim, details: ClaimDetails, *, by: User, today: date) -> None:
    _require(by, "claim.edit", claim)
    _apply(claim, details, by, today)


def draft_claim_for_activity(
    claimant: User,
    *,
    activity_name: str,
    activity_date: date,
    units: Decimal,
    project: Project | None = None,
    notes: str = "",
) -> Claim | None:
    """The one hook other areas call (panel reviews, gatherings): draft a claim for this activity.

    Returns None when the activity has no rate on that date; the person can still claim by hand.
    An activity outside the project's dates is not the project's to pay: it is drafted for the
    programme.
    """
    [claim_id] = draft_claims_for_activity(
        [ActivityDraft(claimant, project, notes)], activity_name=activity_name, activity_date=activity_date, units=units
    )
    return db.session.get(Claim, claim_id) if claim_id is not None else None


@dataclass(frozen=True)
class ActivityDraft:
    """One person's claim in ``draft_claims_for_activity``."""

    claimant: User
    project: Project | None = None
    notes: str = ""


def draft_claims_for_activity(
    drafts: Sequence[ActivityDraft], *, activity_name: str, activity_date: date, units: Decimal
) -> list[int | None]:
    """``draft_claim_for_activity`` for many people at once (everyone who came to a gathering):
    the same checks and the same claims, in a handful of statements whatever their number. The
    list says, in order, each person's claim's id (None for all when the activity has no rate)."""
    activity = db.session.scalar(sa.select(ActivityType).where(ActivityType.name == activity_name))
    rate = rate_in_force(activity.id, activity_date) if activity is not None else None
    if activity is None or rate is None:
        return [None] * len(drafts)
    if not activity.is_active:
        raise RuleBroken("activity_type_id", "Choose the kind of activity.")
    _check_units(units, activity.unit)
    projects = {d.project.id: d.project for d in drafts if d.project is not None}
    in_dates = {pid: outside_project_dates(p, activity_date) is None for pid, p in projects.items()}
    on_team: set[tuple[int, int]] = set()
    if projects:
        people = sorted({d.claimant.id for d in drafts if d.project is not None})
        for start in range(0, len(people), 500):
            members = db.session.execute(
                sa.select(TeamMembership.project_id, TeamMembership.user_id).where(
                    TeamMembership.project_id.in_(sorted(projects)),
                    TeamMembership.user_id.in_(people[start : start + 500]),
                )
            )
            on_team |= {(project_id, user_id) for project_id, user_id in members}
    fee = fee_for(units, rate.amount_pence)
    rows: list[dict[str, Any]] = []
    for draft in drafts:
        project = draft.project if draft.project is not None and in_dates[draft.project.id] else None
        if project is not None and (project.id, draft.claimant.id) not in on_team:
            raise RuleBroken("project_id", "Choose one of your own projects, or the programme.")
        rows.append(
            {
                "claimant_id": draft.claimant.id,
                "state": ClaimState.DRAFT,
                "payment_declined": False,
                "activity_type_id": activity.id,
                "activity_date": activity_date,
                "units": units,
                "unit": activity.unit,
                "rate_pence": rate.amount_pence,
                "full_fee_pence": fee,
                "fee_pence": fee,
                "project_id": project.id if project is not None else None,
                "cost_code": "" if project is not None else PROGRAMME_COST_CODE,
                "notes": draft.notes.strip(),
                "version": 1,
            }
        )
    # One INSERT for them all (the ORM's unit of work sends one per claim: they are versioned),
    # then their ids, found by the moment they share, in the order of ``drafts``.
    stamp = utcnow()
    for row in rows:
        row["created_at"] = row["updated_at"] = stamp
    db.session.execute(sa.insert(Claim), rows)
    found: dict[int, list[int]] = {}
    people = sorted({row["claimant_id"] for row in rows})
    for start in range(0, len(people), 500):
        for claim_id, claimant_id in db.session.execute(
            sa.select(Claim.id, Claim.claimant_id)
            .where(
                Claim.created_at == stamp,
                Claim.activity_type_id == activity.id,
                Claim.activity_date == activity_date,
                Claim.claimant_id.in_(people[start : start + 500]),
            )
            .order_by(Claim.id)
        ):
            found.setdefault(claimant_id, []).append(claim_id)
    return [found[row["claimant_id"]].pop(0) for row in rows]


def expenses_pence(claim: Claim) -> int:
    return int(
        db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(ExpenseLine.amount_pence), 0)).where(
                ExpenseLine.claim_id == claim.id
            )
        )
        or 0
    )


def add_expense(
    claim: Claim,
    *,
    by: User,
    category: ExpenseCategory,
    description: str,
    amount_pence: int | None,
    miles: Decimal | None,
    mileage_rate_pence: int,
    cap_pence: int | None = None,
) -> ExpenseLine:
    """Add a line to a claim. ``cap_pence`` (default: the ``EXPENSE_CLAIM_CAP_PENCE`` setting, 0 for
    none) is the most one claim's expense lines may come to together."""
    _require(by, "claim.edit", claim)
    line = ExpenseLine(claim_id=claim.id, category=category, description=description.strip())
    if category == ExpenseCategory.MILEAGE:
        if miles is None or miles <= 0 or miles > 2000:
            raise RuleBroken("miles", "Enter the number of miles, more than 0 and no more than 2,000.")
        if miles != miles.quantize(Decimal("0.1")):
            raise RuleBroken("miles", "Enter miles to one decimal place at most, like 12.5.")
        line.miles = miles
        line.mileage_rate_pence = mileage_rate_pence
        line.amount_pence = pence(miles * mileage_rate_pence)
    else:
        if amount_pence is None or amount_pence <= 0 or amount_pence > MAX_EXPENSE_PENCE:
            raise RuleBroken("amount", "Enter an amount more than £0 and no more than £5,000.")
        line.amount_pence = amount_pence
    _within_cap(claim, line, current_app.config["EXPENSE_CLAIM_CAP_PENCE"] if cap_pence is None else cap_pence)
    db.session.add(line)
    db.session.flush()
    return line


def _within_cap(claim: Claim, line: ExpenseLine, cap_pence: int) -> None:
    if not cap_pence:
        return
    total = expenses_pence(claim) + line.amount_pence
    if total > cap_pence:
        field = "miles" if line.category == ExpenseCategory.MILEAGE else "amount"
        left = max(cap_pence - expenses_pence(claim), 0)
        raise RuleBroken(
            field,
            f"One claim's expenses can come to no more than {money(cap_pence)}, and this would make them "
            f"{money(total)}. You can add up to {money(left)} more to this claim; put other expenses on a "
            "new claim, or ask the programme team.",
        )


def remove_expense(claim: Claim, line: ExpenseLine, *, by: User) -> str | None:
    """Remove an expense line; returns its receipt's stored name so the caller can delete the file."""
    _require(by, "claim.edit", claim)
    if line.claim_id != claim.id:
        raise NotAllowed("That expense belongs to another claim.")
    stored = line.receipt_stored_name
    db.session.delete(line)
    return stored


# --- workflow -------------------------------------------------------------------------------


def _require(user: User, rule: str, claim: Claim) -> None:
    if not permissions.can(user, rule, claim):
        raise NotAllowed(f"{rule} refused for claim {claim.id}")


CLAIMS_LIST = "/payments"  # the claimant's list of their claims
CONFIRMATIONS_LIST = "/claims/confirmations"  # a project lead's claims to confirm


def claim_name(claim: Claim) -> str:
    """How a claim is named to people: its activity and date, like "Workshop, 25 Nov 2026"."""
    activity = db.session.get_one(ActivityType, claim.activity_type_id)
    return f"{activity.name}, {claim.activity_date:%-d %b %Y}"


def _move(
    claim: Claim,
    to: ClaimState,
    *,
    by: User,
    action: str,
    note: str = "",
    subject: str,
    plural: str,
    body: str,
) -> None:
    """``subject`` names the claim where it says ``{claim}``; ``plural`` is the subject of the
    grouped notification when several claims make the same move (``{count}`` of them)."""
    if to not in TRANSITIONS[claim.state]:
        raise RuleBroken("state", f"A claim that is {claim.state.label.lower()} cannot be {action}.")
    before = {"state": claim.state.value}
    claim.state = to
    audit.record(f"claim.{action}", claim, actor=by, before=before, after={"state": to.value}, note=note)
    claimant = db.session.get_one(User, claim.claimant_id)
    name = claim_name(claim)
    _tell(
        claimant,
        subject.format(claim=f"'{name}'"),
        body,
        claim,
        email_kind=f"claim_{action}",
        email_text=f"Hello {claimant.name},\n\n{body}\n\nClaim {claim.id}: {name}.\n",
        group=Group(key=f"claims.{action}", item=name, plural=plural, url_path=CLAIMS_LIST),
    )


def _tell(
    person: User, subject: str, body: str, claim: Claim, *, email_kind: str, email_text: str, group: Group
) -> None:
    """In the person's notifications (grouped with the same move of their other claims while
    unread), and by email unless they switched claim emails off."""

    notify(
        person,
        "claim",
        subject,
        body,
        f"/claims/{claim.id}",
        email_kind=email_kind,
        email_text=email_text,
        group=group,
    )


def submit_claim(
    claim: Claim, *, by: User, now: datetime, choice: str = "", reduced_fee_pence: int | None = None
) -> list[benefits.LimitBreach]:
    """Send a claim for checking.

    If it would take the claimant over an earnings limit and they have not chosen what to do,
    nothing changes and the breaches are returned so they can choose: ``as_is`` (submit anyway),
    ``reduce`` (to ``reduced_fee_pence``) or ``decline`` (time recorded, fee paid as £0).
    """
    _require(by, "claim.submit", claim)
    require_verified(by)  # money goes only to someone whose address is proved
    if claim.project_id is not None:  # the project's dates may have moved since the draft was made
        outside = outside_project_dates(db.session.get_one(Project, claim.project_id), claim.activity_date)
        if outside:
            raise RuleBroken("activity_date", outside + OUTSIDE_ADVICE)
    reprice(claim, by=by)  # a draft goes at the rate in force now (the view tells the claimant)
    preference = db.session.get(PaymentPreference, claim.claimant_id)
    declined_by_preference = preference is not None and preference.method == PaymentMethod.DECLINE
    claim.payment_declined = declined_by_preference
    claim.fee_pence = claim.full_fee_pence
    if not declined_by_preference:
        breaches = benefits.limit_breaches(claim)
        if breaches and choice not in ("as_is", "reduce", "decline"):
            return breaches
        if choice == "reduce":
            if reduced_fee_pence is None or reduced_fee_pence < 0 or reduced_fee_pence > claim.full_fee_pence:
                raise RuleBroken("reduced_fee", f"Enter an amount from £0 to {money(claim.full_fee_pence)}.")
            claim.fee_pence = reduced_fee_pence
        elif choice == "decline":
            claim.payment_declined = True
    claim.submitted_at = now
    claim.question = ""
    note = ""
    if claim.fee_pence != claim.full_fee_pence:
        note = f"fee reduced by the claimant from {money(claim.full_fee_pence)} to {money(claim.fee_pence)}"
    elif claim.payment_declined:
        note = "payment declined by the claimant; time recorded"
    _move(
        claim,
        ClaimState.SUBMITTED,
        by=by,
        action="submitted",
        note=note,
        subject="We have your claim {claim}",
        plural="We have {count} of your claims",
        body="Thank you. Your claim has been sent for checking. We will tell you when it is approved.",
    )
    if needs_confirmation(claim):
        lead = _project_lead(claim)
        if lead is not None:
            claimant = db.session.get_one(User, claim.claimant_id)
            name = claim_name(claim)
            body = (
                f"{claimant.name}, a member of your project team, has claimed for time: {name}. "
                "Please confirm that the activity happened."
            )
            _tell(
                lead,
                f"{claimant.name}'s claim '{name}' needs your confirmation",
                body,
                claim,
                email_kind="claim_to_confirm",
                email_text=f"Hello {lead.name},\n\n{body}\n",
                group=Group(
                    key="claims.to_confirm",
                    item=f"{name} ({claimant.name})",
                    plural="{count} claims need your confirmation",
                    url_path=CONFIRMATIONS_LIST,
                ),
            )
    return []


def _project_lead(claim: Claim) -> User | None:
    if claim.project_id is None:
        return None
    return db.session.scalar(
        sa.select(User)
        .join(TeamMembership, TeamMembership.user_id == User.id)
        .where(TeamMembership.project_id == claim.project_id, TeamMembership.role == "lead")
        .limit(1)
    )


def needs_confirmation(claim: Claim) -> bool:
    """Project claims are confirmed by the project's lead, unless the lead made the claim."""
    if claim.project_id is None:
        return False
    lead = _project_lead(claim)
    return lead is not None and lead.id != claim.claimant_id


def confirm_claim(claim: Claim, *, by: User, now: datetime) -> None:
    _require(by, "claim.confirm", claim)
    claim.confirmed_at = now
    claim.confirmed_by_id = by.id
    _move(
        claim,
        ClaimState.CONFIRMED,
        by=by,
        action="confirmed",
        subject="Your project lead confirmed your claim {claim}",
        plural="Your project lead confirmed {count} of your claims",
        body="Your project lead has confirmed your activity. The programme team will approve it next.",
    )


class OverBudget(RuleBroken):
    def __init__(self, project: Project, spent_pence: int, claim_pence: int) -> None:
        award = project.award_pence or 0
        super().__init__(
            "confirm_over_budget",
            f"Approving this claim takes {project.title} over its award: {money(spent_pence)} spent "
            f"of {money(award)}, and this claim is {money(claim_pence)}. Tick the box to approve anyway.",
        )
        self.project = project


def approve_claim(claim: Claim, *, by: User, now: datetime, over_budget_confirmed: bool = False) -> None:
    _require(by, "claim.approve", claim)
    note = ""
    if claim.project_id is not None:
        project = budgets.lock_budget(claim.project_id)  # held until commit: approvals queue here
        spent = budgets.project_spend_pence(project.id)
        this_claim = claim.payable_fee_pence + expenses_pence(claim)
        if project.award_pence is not None and spent + this_claim > project.award_pence:
            if not over_budget_confirmed:
                raise OverBudget(project, spent, this_claim)
            note = f"approved over budget: {money(spent + this_claim)} against an award of {money(project.award_pence)}"
    claim.approved_at = now
    claim.approved_by_id = by.id
    _move(
        claim,
        ClaimState.APPROVED,
        by=by,
        action="approved",
        note=note,
        subject="Your claim {claim} was approved",
        plural="{count} claims approved",
        body="Your claim has been approved. It will be paid in the next payment run.",
    )


def query_claim(claim: Claim, *, by: User, question: str) -> None:
    _require(by, "claim.query", claim)
    if not question.strip():
        raise RuleBroken("question", "Write the question you want to ask.")
    claim.question = question.strip()
    _move(
        claim,
        ClaimState.QUERIED,
        by=by,
        action="queried",
        note=claim.question,
        subject="A question about your claim {claim}",
        plural="Questions about {count} of your claims",
        body=f"We have a question about your claim:\n\n{claim.question}\n\n"
        "Please answer by changing the claim's notes, then send it again.",
    )


def check_reject(claim: Claim, *, by: User, reason: str) -> None:
    """What rejecting asks, checked before the confirmation page is shown and again on rejecting."""
    _require(by, "claim.reject", claim)
    if not reason.strip():
        raise RuleBroken("reason", "Give the reason, so the claimant understands why.")


def reject_claim(claim: Claim, *, by: User, reason: str) -> None:
    check_reject(claim, by=by, reason=reason)
    claim.decision_reason = reason.strip()
    _move(
        claim,
        ClaimState.REJECTED,
        by=by,
        action="rejected",
        note=claim.decision_reason,
        subject="Your claim {claim} was not approved",
        plural="{count} claims not approved",
        body=f"Your claim was not approved, for this reason:\n\n{claim.decision_reason}\n\n"
        "If you think this is wrong, reply to the programme team.",
    )


def check_void(claim: Claim, *, by: User, reason: str = "") -> None:
    """What cancelling asks, checked before the confirmation page is shown and again on cancelling."""
    _require(by, "claim.void", claim)
    if by.id != claim.claimant_id and not reason.strip():
        raise RuleBroken("reason", "Give the reason for cancelling this claim.")


def void_claim(claim: Claim, *, by: User, reason: str = "") -> None:
    check_void(claim, by=by, reason=reason)
    claim.decision_reason = reason.strip()
    _move(
        claim,
        ClaimState.VOIDED,
        by=by,
        action="voided",
        note=claim.decision_reason,
        subject="Your claim {claim} was cancelled",
        plural="{count} claims cancelled",
        body="Your claim has been cancelled." + (f" Reason: {claim.decision_reason}" if reason.strip() else ""),
    )


def move_into_batch(claim: Claim, *, by: User, batch_id: int, reference: str) -> None:
    if not permissions.can(by, "claim.batch", claim):
        raise RuleBroken("claim_ids", f"Claim {claim.id}: {permissions.refusal(by, 'claim.batch', claim)}")
    if claim.batch_id is not None:
        raise RuleBroken("claim_ids", f"Claim {claim.id} is already in a payment batch.")
    claim.batch_id = batch_id
    _move(
        claim,
        ClaimState.IN_BATCH,
        by=by,
        action="batched",
        note=reference,
        subject="Your payment for {claim} is on its way",
        plural="Payments for {count} claims are on their way",
        body=f"Your claim is in payment run {reference}. You will be told when it is paid.",
    )


def mark_paid(claim: Claim, *, by: User, paid_on: date, reference: str) -> None:
    if not permissions.can(by, "claim.mark_paid", claim):
        raise RuleBroken("paid_on", f"Claim {claim.id}: {permissions.refusal(by, 'claim.mark_paid', claim)}")
    claim.paid_on = paid_on
    amount = claim.payable_fee_pence + expenses_pence(claim)
    _move(
        claim,
        ClaimState.PAID,
        by=by,
        action="paid",
        note=reference,
        subject="Your claim {claim} has been paid",
        plural="{count} claims paid",
        body=f"Your claim was paid {money(amount)} on {paid_on:%d %B %Y}.",
    )
