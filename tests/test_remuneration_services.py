"""Remuneration rules, tested at the service level."""

from __future__ import annotations

import csv
import io
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from portal.core.audit import AuditEntry
from portal.core.csv_export import csv_lines
from portal.core.errors import NotAllowed, RuleBroken
from portal.core.extensions import db
from portal.core.outbox import OutboxMessage
from portal.remuneration import batches, benefits, budgets, claims, rates
from portal.remuneration.models import (
    TRANSITIONS,
    ActivityType,
    Claim,
    ClaimState,
    ExpenseCategory,
    PaymentMethod,
    PaymentPreference,
    Unit,
)
from tests import factories

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def card(app: Any, users: dict[str, Any]) -> dict[str, ActivityType]:
    admin = users["admin"]
    made = {}
    for name, unit, pence in (
        ("Meeting", Unit.HOUR, 2000),
        ("Workshop", Unit.HALF_DAY, 7500),
        ("Panel review", Unit.DAY, 15000),
        ("Storytelling interview", Unit.FIXED_FEE, 5000),
    ):
        activity = rates.add_activity_type(name=name, unit=unit, by=admin)
        rates.set_rate(activity, amount_pence=pence, effective_from=date(2025, 1, 1), by=admin)
        made[name] = activity
    db.session.commit()
    return made


def make_claim(
    claimant: Any, activity: ActivityType, *, on: date = date(2026, 11, 2), units: str = "1", project: Any = None
) -> Claim:
    claim = claims.create_claim(
        claimant, claims.ClaimDetails(activity.id, on, Decimal(units), project.id if project else None), today=TODAY
    )
    db.session.commit()
    return claim


def submitted(claimant: Any, activity: ActivityType, **kwargs: Any) -> Claim:
    claim = make_claim(claimant, activity, **kwargs)
    assert claims.submit_claim(claim, by=claimant, now=NOW) == []
    db.session.commit()
    return claim


# --- rates and fees -------------------------------------------------------------------------


def test_a_claim_keeps_the_rate_in_force_on_its_activity_date(card: Any, users: dict[str, Any]) -> None:
    meeting = card["Meeting"]
    before = make_claim(users["member"], meeting, on=date(2025, 12, 15), units="2")
    rates.set_rate(meeting, amount_pence=2200, effective_from=date(2025, 12, 16), by=users["admin"])
    db.session.commit()
    on_the_day = make_claim(users["member"], meeting, on=date(2025, 12, 16), units="2")
    assert (before.rate_pence, before.fee_pence) == (2000, 4000)
    assert (on_the_day.rate_pence, on_the_day.fee_pence) == (2200, 4400)
    db.session.refresh(before)
    assert before.fee_pence == 4000  # a later rate change never alters an existing claim


def test_no_rate_before_the_first_rate(card: Any, users: dict[str, Any]) -> None:
    with pytest.raises(RuleBroken) as error:
        make_claim(users["member"], card["Meeting"], on=date(2024, 6, 1))
    assert error.value.field == "activity_date"


@pytest.mark.parametrize(
    ("activity", "units", "fee"),
    [
        ("Meeting", "1.5", 3000),
        ("Meeting", "0.33", 660),
        ("Workshop", "1", 7500),
        ("Panel review", "0.5", 7500),
        ("Storytelling interview", "1", 5000),
    ],
)
def test_fee_arithmetic_in_pence(card: Any, users: dict[str, Any], activity: str, units: str, fee: int) -> None:
    claim = make_claim(users["member"], card[activity], units=units)
    assert claim.fee_pence == claim.full_fee_pence == fee and isinstance(claim.fee_pence, int)


def test_fee_rounds_half_up_to_the_penny() -> None:
    assert claims.fee_for(Decimal("0.25"), 2002) == 501  # 500.5 -> 501
    assert claims.fee_for(Decimal("0.33"), 1001) == 330  # 330.33 -> 330


@pytest.mark.parametrize(("units", "field"), [("0", "units"), ("-1", "units"), ("25", "units"), ("1.555", "units")])
def test_bad_units_are_refused(card: Any, users: dict[str, Any], units: str, field: str) -> None:
    with pytest.raises(RuleBroken) as error:
        make_claim(users["member"], card["Meeting"], units=units)
    assert error.value.field == field
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Claim)) == 0


def test_future_dates_and_other_teams_projects_are_refused(card: Any, users: dict[str, Any]) -> None:
    with pytest.raises(RuleBroken, match="today or in the past"):
        make_claim(users["member"], card["Meeting"], on=date(2026, 11, 24))
    other = factories.project(lead=users["staff"])
    with pytest.raises(RuleBroken, match="your own projects"):
        make_claim(users["member"], card["Meeting"], project=other)


def test_mileage_is_miles_times_the_configured_rate(card: Any, users: dict[str, Any]) -> None:
    claim = make_claim(users["member"], card["Meeting"])
    line = claims.add_expense(
        claim,
        by=users["member"],
        category=ExpenseCategory.MILEAGE,
        description="To the venue",
        amount_pence=None,
        miles=Decimal("12.5"),
        mileage_rate_pence=45,
    )
    assert line.amount_pence == 563  # 562.5 -> 563
    bus = claims.add_expense(
        claim,
        by=users["member"],
        category=ExpenseCategory.TRAVEL,
        description="Bus",
        amount_pence=480,
        miles=None,
        mileage_rate_pence=45,
    )
    assert bus.amount_pence == 480 and claims.expenses_pence(claim) == 1043
    assert claim.fee_pence == 2000  # expenses kept apart from the fee


def test_declined_payment_records_the_time_but_pays_no_fee(card: Any, users: dict[str, Any]) -> None:
    member = users["member"]
    db.session.add(PaymentPreference(user_id=member.id, method=PaymentMethod.DECLINE))
    db.session.commit()
    claim = submitted(member, card["Meeting"], units="3")
    assert claim.payment_declined and claim.full_fee_pence == 6000 and claim.payable_fee_pence == 0
    assert claim.units == Decimal("3.00")  # the time is still counted


# --- workflow -------------------------------------------------------------------------------


def test_every_illegal_transition_is_refused() -> None:
    moves = {
        ClaimState.SUBMITTED,
        ClaimState.CONFIRMED,
        ClaimState.APPROVED,
        ClaimState.IN_BATCH,
        ClaimState.PAID,
        ClaimState.QUERIED,
        ClaimState.REJECTED,
        ClaimState.VOIDED,
    }
    for state in ClaimState:
        for target in moves - TRANSITIONS[state]:
            claim = Claim(state=state, claimant_id=1, activity_date=TODAY)
            with pytest.raises(RuleBroken, match="cannot be"):
                claims._move(claim, target, by=None, action="x", subject="", plural="", body="")  # type: ignore[arg-type]


def test_workflow_services_refuse_illegal_moves(card: Any, users: dict[str, Any]) -> None:
    staff, member = users["staff"], users["member"]
    draft = make_claim(member, card["Meeting"])
    with pytest.raises(NotAllowed):
        claims.approve_claim(draft, by=staff, now=NOW)  # a draft cannot be approved
    claim = submitted(member, card["Meeting"])
    claims.reject_claim(claim, by=staff, reason="Duplicate of claim 1")
    db.session.commit()
    for move in (
        lambda: claims.approve_claim(claim, by=staff, now=NOW),
        lambda: claims.query_claim(claim, by=staff, question="?"),
        lambda: claims.void_claim(claim, by=staff, reason="x"),
        lambda: claims.submit_claim(claim, by=member, now=NOW),
    ):
        with pytest.raises(NotAllowed):
            move()


def test_nobody_approves_their_own_claim(card: Any, users: dict[str, Any]) -> None:
    for role in ("staff", "finance", "admin"):
        claim = submitted(users[role], card["Meeting"])
        with pytest.raises(NotAllowed):
            claims.approve_claim(claim, by=users[role], now=NOW)
        claims.approve_claim(claim, by=users["staff" if role != "staff" else "admin"], now=NOW)
        db.session.commit()
        assert claim.state == ClaimState.APPROVED


def test_members_cannot_approve(card: Any, users: dict[str, Any]) -> None:
    claim = submitted(users["staff"], card["Meeting"])
    with pytest.raises(NotAllowed):
        claims.approve_claim(claim, by=users["member"], now=NOW)


def test_project_claims_are_confirmed_by_their_own_lead_only(card: Any, users: dict[str, Any]) -> None:
    lead, other_lead, member = factories.user(), factories.user(), users["member"]
    project = factories.project(lead=lead, members=(member,))
    factories.project(title="Other", lead=other_lead)
    claim = submitted(member, card["Workshop"], project=project)
    assert claims.needs_confirmation(claim)
    with pytest.raises(NotAllowed):
        claims.approve_claim(claim, by=users["staff"], now=NOW)  # not confirmed yet
    with pytest.raises(NotAllowed):
        claims.confirm_claim(claim, by=other_lead, now=NOW)
    claims.confirm_claim(claim, by=lead, now=NOW)
    claims.approve_claim(claim, by=users["staff"], now=NOW)
    db.session.commit()
    assert claim.state == ClaimState.APPROVED and claim.confirmed_by_id == lead.id


def test_a_leads_own_claim_and_programme_claims_skip_confirmation(card: Any, users: dict[str, Any]) -> None:
    lead = factories.user()
    project = factories.project(lead=lead)
    own = submitted(lead, card["Meeting"], project=project)
    programme = submitted(users["member"], card["Meeting"])
    for claim in (own, programme):
        assert not claims.needs_confirmation(claim)
        claims.approve_claim(claim, by=users["staff"], now=NOW)
    db.session.commit()


def test_each_move_is_audited_and_tells_the_claimant(card: Any, users: dict[str, Any]) -> None:
    claim = submitted(users["member"], card["Meeting"])
    claims.query_claim(claim, by=users["staff"], question="Which meeting was this?")
    db.session.commit()
    assert claim.state == ClaimState.QUERIED and claim.question == "Which meeting was this?"
    assert claims.submit_claim(claim, by=users["member"], now=NOW) == []
    claims.approve_claim(claim, by=users["staff"], now=NOW)
    db.session.commit()
    actions = list(
        db.session.scalars(
            sa.select(AuditEntry.action).where(AuditEntry.object_type == "Claim").order_by(AuditEntry.id)
        )
    )
    assert actions == ["claim.submitted", "claim.queried", "claim.submitted", "claim.approved"]
    kinds = list(
        db.session.scalars(
            sa.select(OutboxMessage.kind)
            .where(OutboxMessage.to_email == users["member"].email)
            .order_by(OutboxMessage.id)
        )
    )
    assert kinds == ["claim_submitted", "claim_queried", "claim_submitted", "claim_approved"]


def test_query_and_reject_need_words(card: Any, users: dict[str, Any]) -> None:
    claim = submitted(users["member"], card["Meeting"])
    with pytest.raises(RuleBroken):
        claims.query_claim(claim, by=users["staff"], question="  ")
    with pytest.raises(RuleBroken):
        claims.reject_claim(claim, by=users["staff"], reason="")


def test_over_budget_approval_needs_a_confirmation_that_is_audited(card: Any, users: dict[str, Any]) -> None:
    lead = factories.user()
    project = factories.project(lead=lead)
    project.award_pence = 5000
    db.session.commit()
    first = submitted(lead, card["Meeting"], units="2", project=project)  # £40
    claims.approve_claim(first, by=users["staff"], now=NOW)
    db.session.commit()
    assert budgets.project_spend_pence(project.id) == 4000
    second = submitted(lead, card["Meeting"], units="1", project=project)  # £20 -> £60 of £50
    with pytest.raises(claims.OverBudget):
        claims.approve_claim(second, by=users["staff"], now=NOW)
    db.session.rollback()
    claims.approve_claim(second, by=users["staff"], now=NOW, over_budget_confirmed=True)
    db.session.commit()
    entry = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "claim.approved").order_by(AuditEntry.id.desc())
    ).first()
    assert "over budget" in entry.note


def test_draft_claim_for_activity_hook(card: Any, users: dict[str, Any]) -> None:
    claim = claims.draft_claim_for_activity(
        users["member"], activity_name="Panel review", activity_date=date(2026, 11, 20), units=Decimal("1")
    )
    assert claim is not None and claim.state == ClaimState.DRAFT and claim.fee_pence == 15000
    assert (
        claims.draft_claim_for_activity(
            users["member"], activity_name="Unknown", activity_date=date(2026, 11, 20), units=Decimal("1")
        )
        is None
    )


# --- benefits ------------------------------------------------------------------------------


def test_periods() -> None:
    assert benefits.week_of(date(2026, 4, 8)) == (date(2026, 4, 6), date(2026, 4, 12))
    assert benefits.month_of(date(2026, 2, 14)) == (date(2026, 2, 1), date(2026, 2, 28))
    assert benefits.tax_year_of(date(2026, 4, 5)) == (date(2025, 4, 6), date(2026, 4, 5))
    assert benefits.tax_year_of(date(2026, 4, 6)) == (date(2026, 4, 6), date(2027, 4, 5))


def test_totals_by_week_month_and_tax_year_across_april(card: Any, users: dict[str, Any]) -> None:
    member = users["member"]
    for day, units in ((date(2026, 4, 5), "2"), (date(2026, 4, 6), "3"), (date(2026, 4, 7), "1")):
        submitted(member, card["Meeting"], on=day, units=units)
    totals = benefits.period_totals(member.id, date(2026, 11, 23))
    years = {(t.start, t.end): t.fees_pence for t in totals["tax_years"]}
    assert years[(date(2025, 4, 6), date(2026, 4, 5))] == 4000
    assert years[(date(2026, 4, 6), date(2027, 4, 5))] == 8000
    weeks = {(t.start, t.end): t.fees_pence for t in totals["weeks"]}
    assert weeks == {(date(2026, 4, 6), date(2026, 4, 12)): 8000}  # 5 April is last tax year's week
    months = {(t.start, t.end): t.fees_pence for t in totals["months"]}
    assert months == {(date(2026, 4, 1), date(2026, 4, 30)): 12000}  # the whole of April, as limits count it


def test_expenses_and_declined_fees_never_count_towards_limits(card: Any, users: dict[str, Any]) -> None:
    member = users["member"]
    claim = make_claim(member, card["Meeting"], on=date(2026, 11, 2))
    claims.add_expense(
        claim,
        by=member,
        category=ExpenseCategory.TRAVEL,
        description="Taxi",
        amount_pence=9999,
        miles=None,
        mileage_rate_pence=45,
    )
    claims.submit_claim(claim, by=member, now=NOW)
    declined = make_claim(member, card["Meeting"], on=date(2026, 11, 3), units="5")
    db.session.add(PaymentPreference(user_id=member.id, weekly_limit_pence=5000))
    db.session.flush()
    claims.submit_claim(declined, by=member, now=NOW, choice="decline")
    db.session.commit()
    assert benefits.fees_between(member.id, date(2026, 11, 2), date(2026, 11, 8)) == 2000


def test_over_limit_warns_first_and_changes_nothing_until_a_choice(card: Any, users: dict[str, Any]) -> None:
    member = users["member"]
    db.session.add(PaymentPreference(user_id=member.id, weekly_limit_pence=19600, monthly_limit_pence=50000))
    db.session.commit()
    submitted(member, card["Panel review"], on=date(2026, 11, 2))  # £150 in the week of 2 Nov
    claim = make_claim(member, card["Meeting"], on=date(2026, 11, 4), units="3")  # £60 more: £210 > £196
    breaches = claims.submit_claim(claim, by=member, now=NOW)
    assert [(b.period, b.limit_pence, b.other_fees_pence, b.this_fee_pence, b.room_pence) for b in breaches] == [
        ("week", 19600, 15000, 6000, 4600)
    ]
    db.session.rollback()
    db.session.refresh(claim)
    assert claim.state == ClaimState.DRAFT
    with pytest.raises(RuleBroken):
        claims.submit_claim(claim, by=member, now=NOW, choice="reduce", reduced_fee_pence=6001)
    db.session.rollback()
    assert claims.submit_claim(claim, by=member, now=NOW, choice="reduce", reduced_fee_pence=4600) == []
    db.session.commit()
    assert (claim.state, claim.fee_pence, claim.full_fee_pence) == (ClaimState.SUBMITTED, 4600, 6000)
    assert benefits.fees_between(member.id, date(2026, 11, 2), date(2026, 11, 8)) == 19600


def test_submit_anyway_is_the_claimants_choice(card: Any, users: dict[str, Any]) -> None:
    member = users["member"]
    db.session.add(PaymentPreference(user_id=member.id, weekly_limit_pence=1000))
    db.session.commit()
    claim = make_claim(member, card["Meeting"])
    assert claims.submit_claim(claim, by=member, now=NOW, choice="as_is") == []
    db.session.commit()
    assert claim.state == ClaimState.SUBMITTED and claim.fee_pence == 2000 and not claim.payment_declined


# --- batches -------------------------------------------------------------------------------


def _approved(claimant: Any, activity: ActivityType, users: dict[str, Any], **kwargs: Any) -> Claim:
    claim = submitted(claimant, activity, **kwargs)
    claims.approve_claim(claim, by=users["staff"], now=NOW)
    db.session.commit()
    return claim


def test_batch_csv_columns_and_rows(card: Any, users: dict[str, Any]) -> None:
    payee, decliner = factories.user(name="=Pat Payee"), factories.user(name="Dee Decliner")
    db.session.add_all(
        [
            PaymentPreference(user_id=payee.id, method=PaymentMethod.VOUCHER, payee_reference="SUP-0042"),
            PaymentPreference(user_id=decliner.id, method=PaymentMethod.DECLINE),
        ]
    )
    db.session.commit()
    with_expenses = make_claim(payee, card["Panel review"], on=date(2026, 11, 2))
    claims.add_expense(
        with_expenses,
        by=payee,
        category=ExpenseCategory.TRAVEL,
        description="Train",
        amount_pence=1250,
        miles=None,
        mileage_rate_pence=45,
    )
    claims.submit_claim(with_expenses, by=payee, now=NOW)
    claims.approve_claim(with_expenses, by=users["staff"], now=NOW)
    declined = _approved(decliner, card["Meeting"], users, units="2")
    batch = batches.create_batch(
        reference="PAY-2026-11", claim_ids=[with_expenses.id, declined.id], by=users["finance"]
    )
    db.session.commit()
    text = "".join(csv_lines(batches.CSV_COLUMNS, batches.batch_rows(batch)))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "claim_id",
        "payee_name",
        "payee_reference",
        "payment_method",
        "activity_date",
        "activity_type",
        "units",
        "unit",
        "rate",
        "fee",
        "expenses",
        "total",
        "project_or_cost_code",
        "submitted_at",
        "approved_by",
        "approved_at",
        "batch_reference",
    ]
    first, second = rows[1], rows[2]
    assert first[:13] == [
        str(with_expenses.id),
        "'=Pat Payee",
        "SUP-0042",
        "voucher",
        "2026-11-02",
        "Panel review",
        "1.00",
        "day",
        "150.00",
        "150.00",
        "12.50",
        "162.50",
        "PROGRAMME",
    ]
    assert first[13] == "2026-11-23T12:00:00+00:00" and first[14] == "Staff Person" and first[16] == "PAY-2026-11"
    assert second[3] == "decline" and second[9] == "0.00" and second[10] == "0.00" and second[11] == "0.00"
    assert second[8] == "20.00" and second[6] == "2.00"


def test_a_claim_can_be_in_one_batch_only_and_batches_are_finance_only(card: Any, users: dict[str, Any]) -> None:
    claim = _approved(users["member"], card["Meeting"], users)
    with pytest.raises(NotAllowed):
        batches.create_batch(reference="B1", claim_ids=[claim.id], by=users["staff"])
    batches.create_batch(reference="B1", claim_ids=[claim.id], by=users["finance"])
    db.session.commit()
    with pytest.raises(RuleBroken, match="not approved"):
        batches.create_batch(reference="B2", claim_ids=[claim.id], by=users["finance"])
    db.session.rollback()
    with pytest.raises(RuleBroken, match="already has this reference"):
        batches.create_batch(reference="B1", claim_ids=[claim.id], by=users["finance"])


def test_marking_a_batch_paid_pays_its_claims(card: Any, users: dict[str, Any]) -> None:
    claim = _approved(users["member"], card["Meeting"], users)
    batch = batches.create_batch(reference="B1", claim_ids=[claim.id], by=users["finance"])
    db.session.commit()
    with pytest.raises(RuleBroken):
        batches.mark_batch_paid(
            batch, paid_on=date(2026, 11, 30), payment_reference="X", by=users["finance"], today=TODAY
        )
    batches.mark_batch_paid(
        batch, paid_on=date(2026, 11, 20), payment_reference="BACS-991", by=users["finance"], today=TODAY
    )
    db.session.commit()
    assert claim.state == ClaimState.PAID and claim.paid_on == date(2026, 11, 20)
    with pytest.raises(RuleBroken, match="already"):
        batches.mark_batch_paid(
            batch, paid_on=date(2026, 11, 20), payment_reference="again", by=users["finance"], today=TODAY
        )


# --- concurrency ----------------------------------------------------------------------------


def test_two_people_approving_at_once_one_wins(app: Any, card: Any, users: dict[str, Any]) -> None:
    claim = submitted(users["member"], card["Meeting"])
    claim_id = claim.id
    approvers = [users["staff"].id, users["admin"].id]
    both_loaded = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(approver_id: int) -> None:
        with app.app_context():
            from portal.accounts.models import User

            mine = db.session.get(Claim, claim_id)
            me = db.session.get(User, approver_id)
            both_loaded.wait(timeout=10)
            try:
                claims.approve_claim(mine, by=me, now=NOW)
                db.session.commit()
                outcomes.append("approved")
            except StaleDataError:
                db.session.rollback()
                outcomes.append("told")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=approve, args=(a,)) for a in approvers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["approved", "told"]
    db.session.expire_all()
    assert db.session.get(Claim, claim_id).state == ClaimState.APPROVED
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "claim.approved")
        )
        == 1
    )
