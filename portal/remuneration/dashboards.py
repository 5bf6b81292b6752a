"""Read-only queries behind the staff and finance pages: the claims queue, leads' confirmations,
the staff payments dashboard and the finance dashboard.

Every list is a ``select`` the views paginate, with the rows' people, activities and projects
loaded in the same query; per-row extras (expenses, payment preferences, batch totals) come
from one grouped query over the page's ids. Totals and counts are computed by the database
(GROUP BY), never by loading claims. Money stays integer pence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.interfaces import LoaderOption

from portal.accounts.models import User
from portal.core.extensions import db
from portal.core.formatting import LONDON
from portal.core.keyset_lists import KeysetPage, keyset_page
from portal.remuneration.models import (
    BatchState,
    Claim,
    ClaimState,
    ExpenseLine,
    PaymentBatch,
    PaymentMethod,
    PaymentPreference,
)
from portal.remuneration.review_forms import WAITING
from portal.teams.models import TeamMembership, TeamRole

# What finance calls each way of being paid (the claimant-facing labels are written for them).
METHOD_NAMES = {
    PaymentMethod.BANK_TRANSFER: "Bank transfer",
    PaymentMethod.VOUCHER: "Voucher",
    PaymentMethod.CHARITY: "Charity donation",
    PaymentMethod.DECLINE: "Declined (pay £0)",
}
# Claims the programme still has to act on, in the order they move.
WAITING_ON_PROGRAMME = (ClaimState.SUBMITTED, ClaimState.CONFIRMED, ClaimState.APPROVED, ClaimState.IN_BATCH)
DASHBOARD_STATES = (
    ClaimState.SUBMITTED,
    ClaimState.CONFIRMED,
    ClaimState.QUERIED,
    ClaimState.APPROVED,
    ClaimState.IN_BATCH,
)
PAYMENT_WINDOW_DAYS = 90
STEP_NAMES = {
    ClaimState.SUBMITTED: "Sent, waiting for the project lead or for approval",
    ClaimState.CONFIRMED: "Confirmed by the project lead, waiting for approval",
    ClaimState.QUERIED: "Waiting for the claimant to answer a question",
    ClaimState.APPROVED: "Approved, waiting for a payment batch",
    ClaimState.IN_BATCH: "In a payment batch, waiting to be paid",
}


def payable_fee() -> sa.ColumnElement[int]:
    """The fee actually paid, in SQL: £0 when the claimant declined payment."""
    return sa.case((Claim.payment_declined.is_(True), 0), else_=Claim.fee_pence)


def _with_people() -> tuple[LoaderOption, ...]:
    return (joinedload(Claim.claimant), joinedload(Claim.activity_type), joinedload(Claim.project))


# --- the claims queue --------------------------------------------------------------------------


def confirmed_by_another_lead() -> sa.ColumnElement[bool]:
    """The claim's project has a lead who is not the claimant (so the lead confirms it first).

    The set-based form of ``claims.needs_confirmation``.
    """
    return sa.exists().where(
        TeamMembership.project_id == Claim.project_id,
        TeamMembership.role == TeamRole.LEAD,
        TeamMembership.user_id != Claim.claimant_id,
    )


def queue_condition(state: str) -> sa.ColumnElement[bool]:
    if state == WAITING:
        # The two states first, so the database reads just them from the state index.
        return sa.and_(
            Claim.state.in_((ClaimState.CONFIRMED, ClaimState.SUBMITTED)),
            sa.or_(Claim.state == ClaimState.CONFIRMED, ~confirmed_by_another_lead()),
        )
    return Claim.state == ClaimState(state)


def queue_query(state: str) -> sa.Select[Claim]:
    """Claims in the chosen part of the queue, the longest waiting first (``queue_page`` pages it)."""
    return (
        sa.select(Claim).where(queue_condition(state)).options(*_with_people()).order_by(Claim.submitted_at, Claim.id)
    )


def by_waiting(query: sa.Select[Claim]) -> KeysetPage[Claim]:
    """A page of claims the longest waiting first, by (sent, id); never sent last."""
    return keyset_page(query, Claim.submitted_at, Claim.id, descending=False, nullable=True)


def queue_page(state: str) -> KeysetPage[Claim]:
    return by_waiting(queue_query(state))


@dataclass(frozen=True)
class Totals:
    claims: int
    fees_pence: int
    expenses_pence: int

    @property
    def total_pence(self) -> int:
        return self.fees_pence + self.expenses_pence


def claim_expenses() -> sa.ScalarSelect[int]:
    """The claim's expenses, in SQL (a correlated sum over the expense lines' claim index)."""
    return (
        sa.select(sa.func.coalesce(sa.func.sum(ExpenseLine.amount_pence), 0))
        .where(ExpenseLine.claim_id == Claim.id)
        .correlate(Claim)
        .scalar_subquery()
    )


def totals_where(condition: sa.ColumnElement[bool]) -> Totals:
    """Count, payable fees and expenses of every claim matching ``condition`` (one query)."""
    count, fees, expenses = db.session.execute(
        sa.select(
            sa.func.count(Claim.id),
            sa.func.coalesce(sa.func.sum(payable_fee()), 0),
            sa.func.coalesce(sa.func.sum(claim_expenses()), 0),
        ).where(condition)
    ).one()
    return Totals(int(count), int(fees), int(expenses or 0))


def expenses_by_claim(claim_ids: Iterable[int]) -> dict[int, int]:
    ids = list(claim_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(ExpenseLine.claim_id, sa.func.sum(ExpenseLine.amount_pence))
        .where(ExpenseLine.claim_id.in_(ids))
        .group_by(ExpenseLine.claim_id)
    )
    return {claim_id: int(total) for claim_id, total in rows}


# --- a project lead's confirmations ----------------------------------------------------------------


def confirmations_query(lead: User) -> sa.Select[Claim]:
    """Submitted claims by other people on projects ``lead`` leads, the longest waiting first."""
    # Driven from the lead's memberships (a few rows), then each project's submitted claims through
    # ix_claims_project_state: written as ``project_id IN (...)``, SQLite scanned every claim.
    return (
        sa.select(Claim)
        .join(
            TeamMembership,
            sa.and_(
                TeamMembership.project_id == Claim.project_id,
                TeamMembership.user_id == lead.id,
                TeamMembership.role == TeamRole.LEAD,
            ),
        )
        .where(Claim.state == ClaimState.SUBMITTED, Claim.claimant_id != lead.id)
        .options(*_with_people())
        .order_by(Claim.submitted_at, Claim.id)
    )


# --- the staff payments dashboard ----------------------------------------------------------------


@dataclass(frozen=True)
class StateRow:
    state: ClaimState
    totals: Totals

    @property
    def name(self) -> str:
        return STEP_NAMES[self.state]


def waiting_by_state() -> list[StateRow]:
    """Claims at each open state with their fees and expenses (one GROUP BY over the state index)."""
    found = {
        state: Totals(int(count), int(fees), int(expenses))
        for state, count, fees, expenses in db.session.execute(
            sa.select(
                Claim.state,
                sa.func.count(Claim.id),
                sa.func.coalesce(sa.func.sum(payable_fee()), 0),
                sa.func.coalesce(sa.func.sum(claim_expenses()), 0),
            )
            .where(Claim.state.in_(DASHBOARD_STATES))
            .group_by(Claim.state)
        )
    }
    return [StateRow(state, found.get(state, Totals(0, 0, 0))) for state in DASHBOARD_STATES]


def local_day(moment: datetime) -> date:
    return moment.astimezone(LONDON).date()


def oldest_waiting() -> Claim | None:
    """The claim that has waited longest for the programme (not for a claimant's answer)."""
    return db.session.scalars(
        sa.select(Claim)
        .where(Claim.state.in_(WAITING_ON_PROGRAMME), Claim.submitted_at.is_not(None))
        .options(joinedload(Claim.claimant), joinedload(Claim.activity_type))
        .order_by(Claim.submitted_at, Claim.id)
        .limit(1)
    ).first()


@dataclass(frozen=True)
class PaymentSpeed:
    claims: int
    median_days: float | None
    within_target: int
    target_days: int
    since: date
    window_days: int = PAYMENT_WINDOW_DAYS

    @property
    def median_text(self) -> str:
        """12 -> "12 days"; 12.5 -> "12.5 days" (the median of an even number of claims)."""
        if self.median_days is None:
            return ""
        value = f"{self.median_days:g}"
        return f"{value} day" if value == "1" else f"{value} days"

    @property
    def on_target(self) -> bool:
        return self.median_days is not None and self.median_days <= self.target_days


def _utc_day_parts() -> tuple[sa.ColumnElement[Any], sa.ColumnElement[date]]:
    """Days from the UTC day a claim was sent to the day it was paid, and that UTC day for a
    claim sent in the 23:00 UTC hour (the only hour whose London day can be the next one), in SQL."""
    if db.engine.dialect.name == "postgresql":
        utc = sa.func.timezone("UTC", Claim.submitted_at)
        day: sa.ColumnElement[Any] = sa.cast(utc, sa.Date)
        days: sa.ColumnElement[Any] = Claim.paid_on - day
        late = sa.extract("hour", utc) == 23
    else:  # SQLite keeps UTC times as text: "2026-11-30 23:15:00.000000"
        day = sa.func.date(Claim.submitted_at)
        days = sa.cast(sa.func.julianday(Claim.paid_on) - sa.func.julianday(day), sa.Integer)
        late = sa.func.strftime("%H", Claim.submitted_at) == "23"
    return days, sa.type_coerce(sa.case((late, day), else_=None), sa.Date)


def _median(histogram: dict[int, int]) -> float | None:
    """The median of a list given as {value: how many times}."""
    total = sum(histogram.values())
    if not total:
        return None
    wanted = {(total - 1) // 2, total // 2}
    found, seen = [], 0
    for value in sorted(histogram):
        for position in wanted:
            if seen <= position < seen + histogram[value]:
                found.append(value)
        seen += histogram[value]
    return found[0] if len(found) == 1 else sum(found) / 2


def payment_speed(today: date, target_days: int) -> PaymentSpeed:
    """Median days from submission (its London day) to payment, over claims paid in the last 90 days.

    One grouped query over the (state, paid_on) index: how many claims took each number of days,
    counted by the database (with the few sent in the 23:00 UTC hour kept apart, as their London
    day may be the next one). The median is taken here because SQLite has no percentile function.
    """
    since = today - timedelta(days=PAYMENT_WINDOW_DAYS)
    days, late_day = _utc_day_parts()
    histogram: dict[int, int] = {}
    for utc_days, sent_late_on, how_many in db.session.execute(
        sa.select(days, late_day, sa.func.count())
        .where(
            Claim.state == ClaimState.PAID,
            Claim.paid_on >= since,
            Claim.paid_on <= today,
            Claim.submitted_at.is_not(None),
        )
        .group_by(days, late_day)
    ):
        taken = int(utc_days)
        if sent_late_on is not None:  # London was a day ahead if summer time had begun
            taken -= (local_day(datetime.combine(sent_late_on, time(23, 30), UTC)) - sent_late_on).days
        histogram[taken] = histogram.get(taken, 0) + int(how_many)
    return PaymentSpeed(
        claims=sum(histogram.values()),
        median_days=_median(histogram),
        within_target=sum(n for d, n in histogram.items() if d <= target_days),
        target_days=target_days,
        since=since,
    )


# --- the finance dashboard and batches ------------------------------------------------------------


UNBATCHED = sa.and_(Claim.state == ClaimState.APPROVED, Claim.batch_id.is_(None))


def unbatched_query() -> sa.Select[Claim]:
    """Approved claims not yet in a payment batch, approved longest ago first."""
    return sa.select(Claim).where(UNBATCHED).options(*_with_people()).order_by(Claim.approved_at, Claim.id)


def unbatched_page() -> KeysetPage[Claim]:
    return keyset_page(unbatched_query(), Claim.approved_at, Claim.id, descending=False, nullable=True)


def batch_claims_query(batch_id: int) -> sa.Select[Claim]:
    return sa.select(Claim).where(Claim.batch_id == batch_id).options(*_with_people()).order_by(Claim.id)


def batch_claims_page(batch_id: int) -> KeysetPage[Claim]:
    return keyset_page(batch_claims_query(batch_id), Claim.id, Claim.id, descending=False)


@dataclass(frozen=True)
class PaymentRow:
    """One claim as finance pays it: who, how, and how much."""

    claim: Claim
    preference: PaymentPreference | None
    expenses_pence: int

    @property
    def method(self) -> PaymentMethod:
        # The same rule as the batch CSV (batches.batch_rows).
        if self.claim.payment_declined:
            return PaymentMethod.DECLINE
        return self.preference.method if self.preference else PaymentMethod.BANK_TRANSFER

    @property
    def method_name(self) -> str:
        return METHOD_NAMES[self.method]

    @property
    def payee_reference(self) -> str:
        return self.preference.payee_reference if self.preference else ""

    @property
    def fee_pence(self) -> int:
        return self.claim.payable_fee_pence

    @property
    def total_pence(self) -> int:
        return self.fee_pence + self.expenses_pence


def payment_rows(claims: list[Claim]) -> list[PaymentRow]:
    """A page of claims with their payees' preferences and expenses (two queries)."""
    user_ids = {c.claimant_id for c in claims}
    preferences = (
        {
            p.user_id: p
            for p in db.session.scalars(sa.select(PaymentPreference).where(PaymentPreference.user_id.in_(user_ids)))
        }
        if user_ids
        else {}
    )
    expenses = expenses_by_claim(c.id for c in claims)
    return [PaymentRow(c, preferences.get(c.claimant_id), expenses.get(c.id, 0)) for c in claims]


def batches_query(state: BatchState | None = None) -> sa.Select[PaymentBatch]:
    query = sa.select(PaymentBatch).order_by(PaymentBatch.created_at.desc(), PaymentBatch.id.desc())
    if state is not None:
        query = query.where(PaymentBatch.state == state)
    return query


def batches_page(state: BatchState | None = None) -> KeysetPage[PaymentBatch]:
    return keyset_page(batches_query(state), PaymentBatch.created_at, PaymentBatch.id, descending=True)


def awaiting_batches(limit: int) -> list[PaymentBatch]:
    """The oldest batches still waiting to be paid."""
    return list(
        db.session.scalars(
            sa.select(PaymentBatch)
            .where(PaymentBatch.state == BatchState.AWAITING_PAYMENT)
            .order_by(PaymentBatch.created_at, PaymentBatch.id)
            .limit(limit)
        )
    )


def count_batches(state: BatchState) -> int:
    return int(
        db.session.scalar(sa.select(sa.func.count()).select_from(PaymentBatch).where(PaymentBatch.state == state)) or 0
    )


def batch_totals(batch_ids: Iterable[int]) -> dict[int, Totals]:
    """Claims, fees and expenses of each batch (two GROUP BY queries over the given batches)."""
    ids = list(batch_ids)
    if not ids:
        return {}
    fees = {
        batch_id: (int(count), int(total))
        for batch_id, count, total in db.session.execute(
            sa.select(Claim.batch_id, sa.func.count(Claim.id), sa.func.coalesce(sa.func.sum(payable_fee()), 0))
            .where(Claim.batch_id.in_(ids))
            .group_by(Claim.batch_id)
        )
    }
    expenses = {
        batch_id: int(total)
        for batch_id, total in db.session.execute(
            sa.select(Claim.batch_id, sa.func.sum(ExpenseLine.amount_pence))
            .join(Claim, Claim.id == ExpenseLine.claim_id)
            .where(Claim.batch_id.in_(ids))
            .group_by(Claim.batch_id)
        )
    }
    return {i: Totals(fees.get(i, (0, 0))[0], fees.get(i, (0, 0))[1], expenses.get(i, 0)) for i in ids}
