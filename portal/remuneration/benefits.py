"""Fee totals by week, calendar month and UK tax year, and earnings-limit checks.

Only fees count (never expenses), and only claims that are submitted or further along and
not declined. A claim counts in the period of its activity date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from portal.core.extensions import db
from portal.remuneration.models import COUNTED_STATES, Claim, PaymentPreference


def week_of(day: date) -> tuple[date, date]:
    """Monday to Sunday."""
    start = day - timedelta(days=day.weekday())
    return start, start + timedelta(days=6)


def month_of(day: date) -> tuple[date, date]:
    start = day.replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following - timedelta(days=1)


def tax_year_of(day: date) -> tuple[date, date]:
    """6 April to 5 April."""
    first_year = day.year if day >= date(day.year, 4, 6) else day.year - 1
    return date(first_year, 4, 6), date(first_year + 1, 4, 5)


def fees_between(user_id: int, start: date, end: date, *, excluding_claim_id: int | None = None) -> int:
    query = sa.select(sa.func.coalesce(sa.func.sum(Claim.fee_pence), 0)).where(
        Claim.claimant_id == user_id,
        Claim.state.in_(COUNTED_STATES),
        Claim.payment_declined.is_(False),
        Claim.activity_date.between(start, end),
    )
    if excluding_claim_id is not None:
        query = query.where(Claim.id != excluding_claim_id)
    return int(db.session.scalar(query) or 0)


@dataclass(frozen=True)
class LimitBreach:
    period: str  # "week" or "month"
    start: date
    end: date
    limit_pence: int
    other_fees_pence: int  # already claimed in the period, without this claim
    this_fee_pence: int

    @property
    def total_pence(self) -> int:
        return self.other_fees_pence + self.this_fee_pence

    @property
    def room_pence(self) -> int:
        return max(0, self.limit_pence - self.other_fees_pence)


def limit_breaches(claim: Claim, fee_pence: int | None = None) -> list[LimitBreach]:
    """The limits this claim would take over, if it were paid ``fee_pence`` (default its fee)."""
    fee = claim.fee_pence if fee_pence is None else fee_pence
    preference = db.session.get(PaymentPreference, claim.claimant_id)
    if preference is None or fee == 0:
        return []
    breaches = []
    for period, limit, bounds in (
        ("week", preference.weekly_limit_pence, week_of(claim.activity_date)),
        ("month", preference.monthly_limit_pence, month_of(claim.activity_date)),
    ):
        if limit is None:
            continue
        others = fees_between(claim.claimant_id, *bounds, excluding_claim_id=claim.id)
        if others + fee > limit:
            breaches.append(LimitBreach(period, bounds[0], bounds[1], limit, others, fee))
    return breaches


@dataclass(frozen=True)
class PeriodTotal:
    start: date
    end: date
    fees_pence: int
    limit_pence: int | None

    @property
    def over_limit(self) -> bool:
        return self.limit_pence is not None and self.fees_pence > self.limit_pence


def period_totals(user_id: int, today: date) -> dict[str, list[PeriodTotal]]:
    """Weeks and months of the current tax year with fees, newest first, and the last two tax years."""
    preference = db.session.get(PaymentPreference, user_id)
    weekly = preference.weekly_limit_pence if preference else None
    monthly = preference.monthly_limit_pence if preference else None
    this_year = tax_year_of(today)
    last_year = tax_year_of(this_year[0] - timedelta(days=1))
    rows = db.session.execute(
        sa.select(Claim.activity_date, Claim.fee_pence).where(
            Claim.claimant_id == user_id,
            Claim.state.in_(COUNTED_STATES),
            Claim.payment_declined.is_(False),
            Claim.activity_date.between(last_year[0], this_year[1]),
        )
    ).all()
    weeks: dict[tuple[date, date], int] = {}
    months: dict[tuple[date, date], int] = {}
    years = {this_year: 0, last_year: 0}
    for day, fee in rows:
        years[tax_year_of(day)] += fee
        # A week or month that overlaps this tax year is shown whole (April starts on the 1st),
        # exactly as the limit check counts it.
        if week_of(day)[1] >= this_year[0]:
            weeks[week_of(day)] = weeks.get(week_of(day), 0) + fee
        if month_of(day)[1] >= this_year[0]:
            months[month_of(day)] = months.get(month_of(day), 0) + fee
    return {
        "weeks": [PeriodTotal(s, e, v, weekly) for (s, e), v in sorted(weeks.items(), reverse=True)],
        "months": [PeriodTotal(s, e, v, monthly) for (s, e), v in sorted(months.items(), reverse=True)],
        "tax_years": [PeriodTotal(s, e, v, None) for (s, e), v in sorted(years.items(), reverse=True)],
    }
