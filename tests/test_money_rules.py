"""Money rules: numbers in ASCII digits only, the cap on one claim's expenses, a draft re-priced
at the rate in force when it is sent, and claims and expenses within a project's dates."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_wtf import FlaskForm

from portal.core.audit import AuditEntry
from portal.core.config import from_environment
from portal.core.db import utcnow
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.core.form_fields import CEILING_MESSAGE, NumberField, PoundsField, ascii_digits, parse_pounds
from portal.core.formatting import london_today
from portal.remuneration import claims, rates
from portal.remuneration.models import (
    ActivityType,
    Claim,
    ClaimState,
    ExpenseCategory,
    ExpenseLine,
    PaymentPreference,
    Unit,
)
from tests import factories

TODAY = london_today()

# Digits from other scripts, and forms Python's int()/Decimal() would take that nobody types as money.
NOT_ASCII_NUMBERS = ["٣", "１", "１0", "۵.۵", "²", "1e3", "1E3", "1_000", "-1", "+1", "0x10", "Infinity", "NaN", "½"]


def text_of(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def error_for(page: str, field: str) -> str:
    match = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', page, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else ""


@pytest.fixture
def meeting(app: Flask, users: dict[str, Any]) -> ActivityType:
    activity = rates.add_activity_type(name="Meeting", unit=Unit.HOUR, by=users["admin"])
    rates.set_rate(activity, amount_pence=2000, effective_from=date(2020, 1, 1), by=users["admin"])
    db.session.commit()
    return activity


# --- numbers: ASCII digits only ---------------------------------------------------------------


class _Numbers(FlaskForm):
    amount = PoundsField("Amount")
    units = NumberField("Units")


def _validated(app: Flask, **data: str) -> _Numbers:
    with app.test_request_context(method="POST", data=data):
        form = _Numbers()
        form.validate()
        return form


@pytest.mark.parametrize("text", NOT_ASCII_NUMBERS)
def test_money_and_numbers_in_other_digits_get_a_message_not_a_value(app: Flask, text: str) -> None:
    form = _validated(app, amount=text, units=text)
    assert form.amount.pence is None and form.units.number is None
    assert form.amount.errors == ["Enter an amount in pounds and pence, like 45.50."]
    assert form.units.errors == ["Enter a number, like 1 or 1.5."]
    with pytest.raises(ValueError):
        parse_pounds(text)
    assert not ascii_digits(text)


@pytest.mark.parametrize(
    ("amount", "pence", "units", "number"),
    [("45", 4500, "1", Decimal(1)), ("£1,234.50", 123450, "1.5", Decimal("1.5")), ("0.05", 5, ".5", Decimal("0.5"))],
)
def test_ascii_numbers_still_read_exactly(app: Flask, amount: str, pence: int, units: str, number: Decimal) -> None:
    form = _validated(app, amount=amount, units=units)
    assert (form.amount.pence, form.units.number) == (pence, number)
    assert form.amount.errors == [] and form.units.errors == []


def test_an_amount_too_big_to_store_is_refused_by_the_form(app: Flask) -> None:
    assert _validated(app, amount="20000000").amount.pence == 20_000_000_00
    form = _validated(app, amount="99999999999")
    assert form.amount.pence is None and form.amount.errors == [CEILING_MESSAGE]


def test_ascii_digits() -> None:
    assert ascii_digits("0") and ascii_digits("123456789")
    assert not ascii_digits("") and not ascii_digits("1234567890")  # past what an id column holds
    assert not ascii_digits(" 1") and not ascii_digits("1.0")


@pytest.mark.parametrize("text", ["٣", "１", "1e3", "²"])
def test_a_claim_for_units_in_other_digits_is_refused_by_the_field(
    meeting: ActivityType, as_role: Any, text: str
) -> None:
    response = as_role("member").post(
        "/claims/new",
        data={"activity_type_id": str(meeting.id), "activity_date": TODAY.isoformat(), "units": text, "project_id": ""},
    )
    assert response.status_code == 422
    assert "Enter a number, like 1 or 1.5" in error_for(text_of(response), "units")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Claim)) == 0


@pytest.mark.parametrize("project_id", ["١", "²", "１"])
def test_a_project_chosen_in_other_digits_is_refused_not_a_crash(
    meeting: ActivityType, as_role: Any, project_id: str
) -> None:
    response = as_role("member").post(
        "/claims/new",
        data={
            "activity_type_id": str(meeting.id),
            "activity_date": TODAY.isoformat(),
            "units": "1",
            "project_id": project_id,
        },
    )
    assert response.status_code == 422
    assert "Choose one of your own projects" in error_for(text_of(response), "project_id")


def test_an_expense_in_other_digits_is_refused_by_the_field(
    meeting: ActivityType, as_role: Any, users: dict[str, Any]
) -> None:
    claim = claims.create_claim(
        users["member"], claims.ClaimDetails(meeting.id, TODAY - timedelta(days=1), Decimal(1)), today=TODAY
    )
    db.session.commit()
    client = as_role("member")
    for field, data, message in (
        ("amount", {"category": "travel", "amount": "１２"}, "Enter an amount in pounds and pence"),
        ("miles", {"category": "mileage", "miles": "٣٠"}, "Enter the miles as a number"),
    ):
        response = client.post(f"/claims/{claim.id}/expenses", data=data)
        assert response.status_code == 422
        assert message in error_for(text_of(response), field)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExpenseLine)) == 0


# --- the cap on one claim's expenses ----------------------------------------------------------


def _draft(claimant: Any, activity: ActivityType, *, on: date | None = None, project_id: int | None = None) -> Claim:
    claim = claims.create_claim(
        claimant, claims.ClaimDetails(activity.id, on or TODAY - timedelta(days=1), Decimal(1), project_id), today=TODAY
    )
    db.session.commit()
    return claim


def _expense(claim: Claim, by: Any, *, pence: int | None = None, miles: str | None = None, **kwargs: Any) -> Any:
    return claims.add_expense(
        claim,
        by=by,
        category=ExpenseCategory.MILEAGE if miles else ExpenseCategory.TRAVEL,
        description="",
        amount_pence=pence,
        miles=Decimal(miles) if miles else None,
        mileage_rate_pence=45,
        **kwargs,
    )


def test_the_default_cap_is_500_pounds_a_claim(app: Flask) -> None:
    assert app.config["EXPENSE_CLAIM_CAP_PENCE"] == 500_00


def test_a_claims_expenses_stay_within_the_cap(meeting: ActivityType, users: dict[str, Any]) -> None:
    member = users["member"]
    claim = _draft(member, meeting)
    _expense(claim, member, pence=300_00)
    db.session.commit()
    with pytest.raises(RuleBroken) as refused:
        _expense(claim, member, pence=200_01)
    assert refused.value.field == "amount"
    assert refused.value.message.startswith("One claim's expenses can come to no more than £500.00")
    assert "make them £500.01" in refused.value.message and "up to £200.00 more" in refused.value.message
    db.session.rollback()
    with pytest.raises(RuleBroken) as by_the_mile:  # 445 miles at 45p is £200.25
        _expense(claim, member, miles="445")
    assert by_the_mile.value.field == "miles"
    db.session.rollback()
    _expense(claim, member, pence=200_00)  # exactly the cap is fine
    db.session.commit()
    assert claims.expenses_pence(claim) == 500_00
    other = _draft(member, meeting)  # the cap is per claim
    _expense(other, member, pence=500_00)
    db.session.commit()


def test_the_cap_is_a_setting_and_0_turns_it_off(app_factory: Any) -> None:
    assert from_environment({"PORTAL_EXPENSE_CLAIM_CAP_PENCE": "25000"}) == {"EXPENSE_CLAIM_CAP_PENCE": 250_00}
    with app_factory(EXPENSE_CLAIM_CAP_PENCE=100_00).app_context():
        member, admin = factories.user(), factories.user(role="admin")
        activity = rates.add_activity_type(name="Meeting", unit=Unit.HOUR, by=admin)
        rates.set_rate(activity, amount_pence=2000, effective_from=date(2020, 1, 1), by=admin)
        claim = _draft(member, activity)
        with pytest.raises(RuleBroken, match="no more than £100.00"):
            _expense(claim, member, pence=100_01)
        db.session.rollback()
        _expense(claim, member, pence=4000_00, cap_pence=0)  # no cap: only the £5,000 a line
        db.session.commit()
        assert claims.expenses_pence(claim) == 4000_00
        db.session.remove()


def test_an_expense_over_the_cap_gets_the_message_by_its_field(
    meeting: ActivityType, as_role: Any, users: dict[str, Any]
) -> None:
    claim = _draft(users["member"], meeting)
    client = as_role("member")
    page = text_of(client.get(f"/claims/{claim.id}"))
    assert "One claim's expenses can come to £500.00 at most." in page
    assert client.post(f"/claims/{claim.id}/expenses", data={"category": "travel", "amount": "450"}).status_code == 303
    response = client.post(f"/claims/{claim.id}/expenses", data={"category": "carer", "amount": "60.00"})
    assert response.status_code == 422
    assert "no more than £500.00" in error_for(text_of(response), "amount")
    response = client.post(f"/claims/{claim.id}/expenses", data={"category": "mileage", "miles": "120"})
    assert "no more than £500.00" in error_for(text_of(response), "miles")
    assert db.session.scalars(sa.select(ExpenseLine.amount_pence)).all() == [450_00]


# --- a draft is priced at the rate in force when it is sent ------------------------------------


def _rate_changes_under_the_draft(meeting: ActivityType, users: dict[str, Any]) -> Claim:
    """A draft for yesterday's meeting at £20 an hour, then a rate of £22 from three days ago."""
    claim = claims.create_claim(
        users["member"],
        claims.ClaimDetails(meeting.id, TODAY - timedelta(days=1), Decimal("1.5")),
        today=TODAY,
    )
    _expense(claim, users["member"], pence=4_80)
    rates.set_rate(meeting, amount_pence=2200, effective_from=TODAY - timedelta(days=3), by=users["admin"])
    db.session.commit()
    assert (claim.rate_pence, claim.full_fee_pence) == (2000, 3000)
    return claim


def _entries(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


def test_a_draft_is_repriced_when_sent_and_the_change_is_audited(meeting: ActivityType, users: dict[str, Any]) -> None:
    claim = _rate_changes_under_the_draft(meeting, users)
    repriced = claims.reprice(claim, by=users["member"])
    assert repriced is not None
    assert repriced.message == (
        "The rate for Meeting changed from £20.00 to £22.00 since you started this claim; the total is now £37.80."
    )
    db.session.rollback()
    assert claims.submit_claim(claim, by=users["member"], now=utcnow()) == []  # the service reprices too
    db.session.commit()
    assert (claim.rate_pence, claim.full_fee_pence, claim.fee_pence) == (2200, 3300, 3300)
    [entry] = _entries("claim.repriced")
    assert (entry.object_id, entry.actor_id) == (str(claim.id), users["member"].id)
    assert (entry.before, entry.after) == (
        {"rate_pence": 2000, "full_fee_pence": 3000},
        {"rate_pence": 2200, "full_fee_pence": 3300},
    )
    assert entry.note == repriced.message


def test_a_sent_claim_keeps_its_rate_and_an_unchanged_draft_is_not_touched(
    meeting: ActivityType, users: dict[str, Any]
) -> None:
    unchanged = _draft(users["member"], meeting)
    assert claims.reprice(unchanged, by=users["member"]) is None
    claims.submit_claim(unchanged, by=users["member"], now=utcnow())
    db.session.commit()
    rates.set_rate(meeting, amount_pence=2500, effective_from=TODAY - timedelta(days=5), by=users["admin"])
    db.session.commit()
    assert claims.reprice(unchanged, by=users["member"]) is None  # sent: its rate is kept
    assert unchanged.rate_pence == 2000 and _entries("claim.repriced") == []


def test_the_claimant_is_told_the_new_rate_when_sending(
    meeting: ActivityType, users: dict[str, Any], as_role: Any
) -> None:
    claim = _rate_changes_under_the_draft(meeting, users)
    client = as_role("member")
    response = client.post(f"/claims/{claim.id}/submit", data={}, follow_redirects=True)
    page = text_of(response)
    assert "The rate for Meeting changed from £20.00 to £22.00 since you started this claim" in page
    assert "the total is now £37.80." in page
    assert "Priced at the rate in force when it was sent" in page  # on the claim's history
    db.session.expire_all()
    assert db.session.get_one(Claim, claim.id).fee_pence == 3300


def test_over_a_limit_the_warning_uses_the_new_rate_and_says_so(
    meeting: ActivityType, users: dict[str, Any], as_role: Any
) -> None:
    claim = _rate_changes_under_the_draft(meeting, users)
    db.session.add(PaymentPreference(user_id=users["member"].id, weekly_limit_pence=3100))  # £30 fits, £33 not
    db.session.commit()
    response = as_role("member").post(f"/claims/{claim.id}/submit", data={})
    page = text_of(response)
    assert response.status_code == 200
    assert "This claim would take you over your earnings limit" in page
    assert "changed from £20.00 to £22.00" in page
    db.session.expire_all()
    again = db.session.get_one(Claim, claim.id)
    assert (again.state, again.fee_pence) == (ClaimState.DRAFT, 3300)  # not sent; the new price kept
    assert len(_entries("claim.repriced")) == 1
