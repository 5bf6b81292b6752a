"""The remuneration views apply each change one way (core.changes): a broken rule or a change that
someone else saved first keeps nothing, says why next to the right field (422) or on the claim,
and a receipt on disk never outlives its expense line."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm.exc import StaleDataError

from portal.core.audit import AuditEntry
from portal.core.db import utcnow
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.remuneration import batches, claims, rates
from portal.remuneration.models import ActivityType, Claim, ClaimState, ExpenseLine, PaymentBatch, Unit
from tests.test_remuneration_claimant_pages import PDF, error_for, stored_files, text_of
from tests.test_remuneration_staff_pages import client_for, reload

TODAY = london_today()
SOMEONE_ELSE_CHANGED_THE_CLAIM = "Someone else changed this claim while you were working on it."
SOMEONE_ELSE_CHANGED_A_CLAIM = "Someone else changed one of these claims at the same time."


@pytest.fixture
def meeting(app: Flask, users: dict[str, Any]) -> ActivityType:
    activity = rates.add_activity_type(name="Meeting", unit=Unit.HOUR, by=users["admin"])
    rates.set_rate(activity, amount_pence=2000, effective_from=date(2020, 1, 1), by=users["admin"])
    db.session.commit()
    return activity


def draft(claimant: Any, activity: ActivityType, *, submit: bool = False) -> Claim:
    claim = claims.create_claim(claimant, claims.ClaimDetails(activity.id, TODAY, Decimal("1"), None), today=TODAY)
    if submit:
        assert claims.submit_claim(claim, by=claimant, now=utcnow()) == []
    db.session.commit()
    return claim


def approved(claimant: Any, activity: ActivityType, staff: Any) -> Claim:
    claim = draft(claimant, activity, submit=True)
    claims.approve_claim(claim, by=staff, now=utcnow())
    db.session.commit()
    return claim


def count(model: type[Any]) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def commit_loses_the_race() -> None:
    raise StaleDataError("UPDATE statement on table 'claims' expected to update 1 row(s); 0 were matched.")


# --- claimant pages -------------------------------------------------------------------------------


def test_a_rule_broken_while_editing_keeps_nothing_and_shows_by_its_field(
    app: Flask, meeting: ActivityType, users: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    claim = draft(users["member"], meeting)

    def half_done_then_refused(claim: Claim, *args: Any, **kwargs: Any) -> None:
        claim.notes = "half-done change"
        db.session.flush()
        raise RuleBroken("units", "Those units break a rule.")

    monkeypatch.setattr(claims, "update_claim", half_done_then_refused)
    response = client_for(app, users["member"]).post(
        f"/claims/{claim.id}/edit",
        data={"activity_type_id": str(meeting.id), "activity_date": TODAY.isoformat(), "units": "2", "notes": "x"},
    )
    assert response.status_code == 422
    assert "Those units break a rule." in error_for(text_of(response), "units")
    assert reload(claim).notes == ""


def test_an_expense_on_a_claim_changed_meanwhile_keeps_neither_line_nor_receipt(
    app: Flask, meeting: ActivityType, users: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    claim = draft(users["member"], meeting)
    member = client_for(app, users["member"])
    with monkeypatch.context() as patch:
        patch.setattr(db.session, "commit", commit_loses_the_race)
        response = member.post(
            f"/claims/{claim.id}/expenses",
            data={"category": "travel", "amount": "3.00", "receipt": (io.BytesIO(PDF), "receipt.pdf")},
        )
    assert response.status_code == 422
    assert SOMEONE_ELSE_CHANGED_THE_CLAIM in text_of(response)
    db.session.rollback()
    assert count(ExpenseLine) == 0
    assert stored_files(app) == []


def test_an_expense_removed_from_a_claim_changed_meanwhile_stays_with_its_receipt(
    app: Flask, meeting: ActivityType, users: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    claim = draft(users["member"], meeting)
    member = client_for(app, users["member"])
    added = member.post(
        f"/claims/{claim.id}/expenses",
        data={"category": "travel", "amount": "3.00", "receipt": (io.BytesIO(PDF), "receipt.pdf")},
    )
    assert added.status_code == 303
    line = db.session.scalars(sa.select(ExpenseLine)).one()
    with monkeypatch.context() as patch:
        patch.setattr(db.session, "commit", commit_loses_the_race)
        response = member.post(f"/claims/{claim.id}/expenses/{line.id}/delete")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/claims/{claim.id}#expenses"
    assert SOMEONE_ELSE_CHANGED_THE_CLAIM in text_of(member.get(f"/claims/{claim.id}"))
    db.session.rollback()
    assert count(ExpenseLine) == 1
    assert len(stored_files(app)) == 1


def test_a_claim_sent_by_htmx_answers_with_hx_redirect(
    app: Flask, meeting: ActivityType, users: dict[str, Any]
) -> None:
    claim = draft(users["member"], meeting)
    response = client_for(app, users["member"]).post(f"/claims/{claim.id}/submit", headers={"HX-Request": "true"})
    assert response.status_code == 204 and response.headers["HX-Redirect"] == f"/claims/{claim.id}"
    assert reload(claim).state == ClaimState.SUBMITTED


# --- checking claims ------------------------------------------------------------------------------


def test_a_rule_broken_during_an_action_keeps_nothing_and_shows_by_its_field(
    app: Flask, meeting: ActivityType, users: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    claim = draft(users["member"], meeting, submit=True)

    def half_done_then_refused(claim: Claim, *args: Any, **kwargs: Any) -> None:
        claim.state = ClaimState.REJECTED
        claim.decision_reason = "half-done"
        db.session.flush()
        raise RuleBroken("reason", "That reason breaks a rule.")

    monkeypatch.setattr(claims, "reject_claim", half_done_then_refused)
    response = client_for(app, users["staff"]).post(
        f"/claims/{claim.id}/reject", data={"reject-reason": "Because", "confirm": "yes"}
    )
    assert response.status_code == 422
    assert "That reason breaks a rule." in error_for(text_of(response), "reject-reason")
    claim = reload(claim)
    assert claim.state == ClaimState.SUBMITTED and claim.decision_reason == ""
    actions = db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_id == str(claim.id))).all()
    assert "claim.rejected" not in actions


# --- finance and the rate card --------------------------------------------------------------------


def test_a_batch_whose_claims_changed_meanwhile_is_not_made(
    app: Flask, meeting: ActivityType, users: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    claim = approved(users["member"], meeting, users["staff"])

    def lost_the_race(**kwargs: Any) -> PaymentBatch:
        raise StaleDataError("version mismatch")

    monkeypatch.setattr(batches, "create_batch", lost_the_race)
    response = client_for(app, users["finance"]).post(
        "/finance/batches", data={"reference": "PAY-1", "claim_ids": [str(claim.id)]}
    )
    assert response.status_code == 422
    page = text_of(response)
    assert SOMEONE_ELSE_CHANGED_A_CLAIM in error_for(page, "claim_ids")
    assert error_for(page, "reference") == ""
    assert count(PaymentBatch) == 0 and reload(claim).state == ClaimState.APPROVED


def test_a_batch_whose_claims_changed_meanwhile_is_not_marked_paid(
    app: Flask, meeting: ActivityType, users: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    claim = approved(users["member"], meeting, users["staff"])
    batch = batches.create_batch(reference="PAY-2", claim_ids=[claim.id], by=users["finance"])
    db.session.commit()
    finance = client_for(app, users["finance"])
    with monkeypatch.context() as patch:
        patch.setattr(db.session, "commit", commit_loses_the_race)
        response = finance.post(
            f"/finance/batches/{batch.id}/paid",
            data={"paid_on": (TODAY - timedelta(days=1)).isoformat(), "payment_reference": "BACS-1", "confirm": "yes"},
        )
    assert response.status_code == 422
    assert SOMEONE_ELSE_CHANGED_A_CLAIM in error_for(text_of(response), "paid_on")
    db.session.rollback()
    assert reload(claim).state == ClaimState.IN_BATCH


def test_a_rule_broken_on_the_rate_card_keeps_nothing(
    app: Flask, meeting: ActivityType, users: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_done_then_refused(*, name: str, unit: Unit, by: Any) -> ActivityType:
        db.session.add(ActivityType(name=name, unit=unit))
        db.session.flush()
        raise RuleBroken("name", "That name breaks a rule.")

    monkeypatch.setattr(rates, "add_activity_type", half_done_then_refused)
    response = client_for(app, users["admin"]).post("/admin/rates/activities", data={"name": "Panel", "unit": "day"})
    assert response.status_code == 422
    assert "That name breaks a rule." in error_for(text_of(response), "name")
    assert db.session.scalars(sa.select(ActivityType.name)).all() == ["Meeting"]


def test_a_payee_reference_saved_twice_says_nothing_changed(app: Flask, users: dict[str, Any]) -> None:
    finance = client_for(app, users["finance"])
    url = f"/finance/payees/{users['member'].id}"
    assert finance.get(url).status_code == 200
    assert finance.post(url, data={"payee_reference": "SUP-1"}).status_code == 303
    assert "payee reference is saved" in text_of(finance.get(url))
    assert finance.post(url, data={"payee_reference": "SUP-1"}).status_code == 303
    assert "Nothing changed." in text_of(finance.get(url))
