"""The rate card: activity types and their rates, versioned by the date they come into force.

A rate is never changed in place: a new one comes into force from a date, and a claim keeps the
rate it was priced at (``Claim.rate_pence``). Setting a rate is an edit of the activity's line on
the card (``core.edits``): an admin whose rate card was opened before someone else set a rate for
that activity is refused and shown the rates as saved now beside the one they typed.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from portal.accounts.models import User
from portal.core import audit, edits
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.core.formatting import local_date, money
from portal.remuneration.models import ActivityType, Rate, Unit

MAX_RATE_PENCE = 100_000_00  # £100,000: anything above is a typing mistake


def rate_in_force(activity_type_id: int, on: date) -> Rate | None:
    return db.session.scalars(
        sa.select(Rate)
        .where(Rate.activity_type_id == activity_type_id, Rate.effective_from <= on)
        .order_by(Rate.effective_from.desc())
        .limit(1)
    ).first()


def add_activity_type(*, name: str, unit: Unit, by: User) -> ActivityType:
    name = name.strip()
    if not name:
        raise RuleBroken("name", "Enter a name for the activity.")
    exists = db.session.scalar(sa.select(ActivityType.id).where(sa.func.lower(ActivityType.name) == name.lower()))
    if exists:
        raise RuleBroken("name", "There is already an activity with this name.")
    activity = ActivityType(name=name, unit=unit)
    db.session.add(activity)
    db.session.flush()
    audit.record("activity_type.added", activity, actor=by, after={"name": name, "unit": unit.value})
    return activity


def rates_text(rates: list[Rate]) -> str:
    """'£25.00 from 1 April 2027; £20.00 from 1 April 2025' (newest first), for comparing versions."""
    ordered = sorted(rates, key=lambda rate: rate.effective_from, reverse=True)
    return (
        "; ".join(f"{money(rate.amount_pence)} from {local_date(rate.effective_from)}" for rate in ordered) or "No rate"
    )


def _check_fresh(
    activity: ActivityType, seen: int | None, *, amount_pence: int, effective_from: date, by: User
) -> None:
    """Refuse a rate typed on a rate card opened before someone else changed this activity's rates."""
    if seen is None or seen == activity.version:
        return
    saved = list(db.session.scalars(sa.select(Rate).where(Rate.activity_type_id == activity.id)))
    conflict = edits.conflict(activity, {}, viewer=by)
    yours = f"{money(amount_pence)} from {local_date(effective_from)} (your new rate)"
    conflict.differences.append(edits.Difference("rates", f"Rates for {activity.name}", rates_text(saved), yours))
    raise conflict


def set_rate(
    activity: ActivityType, *, amount_pence: int, effective_from: date, by: User, seen: int | None = None
) -> Rate:
    """Add the rate in force from a date, from a rate card opened at the activity's version
    ``seen``. Existing claims keep the rate they were made with."""
    _check_fresh(activity, seen, amount_pence=amount_pence, effective_from=effective_from, by=by)
    if amount_pence <= 0 or amount_pence > MAX_RATE_PENCE:
        raise RuleBroken("amount", "Enter an amount more than £0 and no more than £100,000.")
    clash = db.session.scalar(
        sa.select(Rate).where(Rate.activity_type_id == activity.id, Rate.effective_from == effective_from)
    )
    if clash is not None:
        raise RuleBroken("effective_from", "This activity already has a rate from that date. Choose another date.")
    rate = Rate(
        activity_type_id=activity.id, amount_pence=amount_pence, effective_from=effective_from, created_by_id=by.id
    )
    db.session.add(rate)
    edits.stamp(activity, by=by)  # the activity's line on the card moves to a new version
    db.session.flush()
    audit.record(
        "rate.set",
        activity,
        actor=by,
        after={"amount_pence": amount_pence, "effective_from": effective_from.isoformat()},
    )
    return rate


def rate_card(on: date) -> list[tuple[ActivityType, Rate | None, list[Rate]]]:
    """Each activity with the rate in force on ``on`` and every rate it has had (two queries)."""
    activities = list(db.session.scalars(sa.select(ActivityType).order_by(ActivityType.name)))
    rates: dict[int, list[Rate]] = {a.id: [] for a in activities}
    for rate in db.session.scalars(sa.select(Rate).order_by(Rate.effective_from)):
        rates.setdefault(rate.activity_type_id, []).append(rate)
    card = []
    for activity in activities:
        history = rates[activity.id]
        current = next((r for r in reversed(history) if r.effective_from <= on), None)
        card.append((activity, current, history))
    return card
