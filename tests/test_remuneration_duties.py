"""Separation of duties in money: nobody in finance (or an admin) puts their own claim in a
payment batch or marks it paid, and nobody approves their own claim; another person can."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from portal.core.db import utcnow
from portal.core.errors import NotAllowed, RuleBroken
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.core.permissions import can, refusal
from portal.remuneration import batches, claims
from portal.remuneration.models import ActivityType, Claim, ClaimState, PaymentBatch
from tests import factories
from tests.factories import submitted
from tests.helpers import client_for, text_of


@pytest.fixture
def card(app: Flask, users: dict[str, Any]) -> dict[str, ActivityType]:
    return factories.rate_card()


def approved(claimant: Any, activity: ActivityType, users: dict[str, Any]) -> Claim:
    claim = submitted(claimant, activity)
    claims.approve_claim(claim, by=users["staff"], now=utcnow())
    db.session.commit()
    return claim


def state_of(claim: Claim) -> ClaimState:
    db.session.expire_all()
    found = db.session.get(Claim, claim.id)
    assert found is not None
    return found.state


@pytest.mark.parametrize("role", ["finance", "admin"])
def test_nobody_puts_their_own_claim_in_a_batch(card: Any, users: dict[str, Any], role: str) -> None:
    own = approved(users[role], card["Meeting"], users)
    others = approved(users["member"], card["Meeting"], users)
    assert not can(users[role], "claim.batch", own) and can(users[role], "claim.batch", others)
    assert "Another person in the finance team" in (refusal(users[role], "claim.batch", own) or "")
    with pytest.raises(RuleBroken, match=f"Claim {own.id} is your own") as error:
        batches.create_batch(reference="B1", claim_ids=[own.id, others.id], by=users[role])
    assert error.value.field == "claim_ids"
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(PaymentBatch.id))) == 0
    assert state_of(own) == ClaimState.APPROVED and state_of(others) == ClaimState.APPROVED
    # another finance person can
    colleague = factories.user(role="finance")
    batches.create_batch(reference="B1", claim_ids=[own.id, others.id], by=colleague)
    db.session.commit()
    assert state_of(own) == ClaimState.IN_BATCH


def test_the_claim_rule_holds_below_the_batch_too(card: Any, users: dict[str, Any]) -> None:
    own = approved(users["finance"], card["Meeting"], users)
    with pytest.raises(RuleBroken, match="your own claim"):
        claims.move_into_batch(own, by=users["finance"], batch_id=1, reference="B1")
    db.session.rollback()
    batch = batches.create_batch(reference="B1", claim_ids=[own.id], by=users["admin"])
    db.session.commit()
    with pytest.raises(RuleBroken, match="your own claim"):
        claims.mark_paid(own, by=users["finance"], paid_on=london_today(), reference="BACS")
    db.session.rollback()
    assert batch.state.value == "awaiting_payment"


def test_nobody_marks_a_batch_with_their_own_claim_paid(card: Any, users: dict[str, Any]) -> None:
    finance = users["finance"]
    own = approved(finance, card["Meeting"], users)
    others = approved(users["member"], card["Meeting"], users)
    colleague = factories.user(role="finance")
    batch = batches.create_batch(reference="B1", claim_ids=[own.id, others.id], by=colleague)
    db.session.commit()
    assert batches.own_claims_in(batch, finance) == [own.id]
    with pytest.raises(RuleBroken, match="Another person in the finance team must mark it paid") as error:
        batches.mark_batch_paid(
            batch, paid_on=london_today(), payment_reference="BACS-1", by=finance, today=london_today()
        )
    assert error.value.field == "paid_on"
    db.session.rollback()
    assert state_of(own) == ClaimState.IN_BATCH and state_of(others) == ClaimState.IN_BATCH
    batches.mark_batch_paid(
        batch, paid_on=london_today(), payment_reference="BACS-1", by=colleague, today=london_today()
    )
    db.session.commit()
    assert state_of(own) == ClaimState.PAID and state_of(others) == ClaimState.PAID


def test_the_finance_page_marks_own_claims_and_refuses_them(app: Flask, card: Any, users: dict[str, Any]) -> None:
    finance = users["finance"]
    own = approved(finance, card["Meeting"], users)
    others = approved(users["member"], card["Meeting"], users)
    client = client_for(app, finance)
    page = client.get("/finance").get_data(as_text=True)
    assert f'value="{others.id}"' in page and f'value="{own.id}"' not in page  # no box to tick
    assert "Your own claim" in page and "Another person in the finance team puts it in a batch." in page

    # a hand-made form is refused, next to the claims, and nothing changes
    response = client.post("/finance/batches", data={"reference": "B1", "claim_ids": [str(own.id), str(others.id)]})
    assert response.status_code == 422
    assert f"Claim {own.id} is your own" in text_of(response)
    assert state_of(own) == ClaimState.APPROVED and state_of(others) == ClaimState.APPROVED

    # another finance person sees a box for it, and batches it
    colleague = factories.user(role="finance")
    other_client = client_for(app, colleague)
    assert f'value="{own.id}"' in other_client.get("/finance").get_data(as_text=True)
    made = other_client.post("/finance/batches", data={"reference": "B1", "claim_ids": [str(own.id), str(others.id)]})
    assert made.status_code == 303
    batch = db.session.scalar(sa.select(PaymentBatch))
    assert batch is not None

    # the batch page tells the claimant-in-finance to ask someone else, and refuses the form
    batch_page = text_of(client.get(f"/finance/batches/{batch.id}"))
    assert "Another person in the finance team must mark it paid." in batch_page
    assert "Mark the batch paid" in batch_page  # the heading, not the button
    form = {"paid_on": london_today().isoformat(), "payment_reference": "BACS-1"}
    refused = client.post(f"/finance/batches/{batch.id}/paid", data=form)
    assert refused.status_code == 422 and "Another person in the finance team must mark it paid" in text_of(refused)
    assert state_of(own) == ClaimState.IN_BATCH
    assert 'name="payment_reference"' in other_client.get(f"/finance/batches/{batch.id}").get_data(as_text=True)
    assert other_client.post(f"/finance/batches/{batch.id}/paid", data={**form, "confirm": "yes"}).status_code == 303
    assert state_of(own) == ClaimState.PAID


@pytest.mark.parametrize("role", ["staff", "finance", "admin"])
def test_nobody_approves_their_own_claim(app: Flask, card: Any, users: dict[str, Any], role: str) -> None:
    claim = submitted(users[role], card["Meeting"])
    assert "never their own" in (refusal(users[role], "claim.approve", claim) or "")
    with pytest.raises(NotAllowed):
        claims.approve_claim(claim, by=users[role], now=utcnow())
    db.session.rollback()
    assert client_for(app, users[role]).post(f"/claims/{claim.id}/approve").status_code == 403
    assert state_of(claim) == ClaimState.SUBMITTED
    other = users["admin"] if role != "admin" else users["staff"]
    claims.approve_claim(db.session.get_one(Claim, claim.id), by=other, now=utcnow())
    db.session.commit()
    assert state_of(claim) == ClaimState.APPROVED
