"""Pages for the people who check and pay claims: leads, staff, finance and admins, through the client."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm.exc import StaleDataError

from portal.core.audit import AuditEntry
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.remuneration import batches, claims, dashboards, rates
from portal.remuneration.models import (
    ActivityType,
    BatchState,
    Claim,
    ClaimState,
    PaymentBatch,
    PaymentMethod,
    PaymentPreference,
    Rate,
    Unit,
)
from tests import factories
from tests.factories import submitted
from tests.helpers import client_for, count, queries_for, text_of

CLAIM_DAY = factories.CLAIM_DAY


# --- helpers ---------------------------------------------------------------------------------------


@pytest.fixture
def card(app: Flask, users: dict[str, Any]) -> dict[str, ActivityType]:
    return factories.rate_card()


def approved(claimant: Any, activity: ActivityType, users: dict[str, Any], **kwargs: Any) -> Claim:
    claim = submitted(claimant, activity, **kwargs)
    claims.approve_claim(claim, by=users["staff"], now=utcnow())
    db.session.commit()
    return claim


def reload(claim: Claim) -> Claim:
    db.session.expire_all()
    return db.session.get(Claim, claim.id)


def audit_actions(claim: Claim) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(AuditEntry.action)
            .where(AuditEntry.object_type == "Claim", AuditEntry.object_id == str(claim.id))
            .order_by(AuditEntry.id)
        )
    )


# --- confirming, approving, asking, rejecting, cancelling ---------------------------------------------


def test_a_lead_confirms_their_projects_claim_and_another_lead_cannot(
    app: Flask, card: Any, users: dict[str, Any]
) -> None:
    lead, other_lead, member = factories.user(name="Lee Lead"), factories.user(), users["member"]
    project = factories.project(title="Food bank pilot", lead=lead, members=(member,))
    factories.project(title="Another pilot", lead=other_lead)
    claim = submitted(member, card["Meeting"], project=project)

    other = client_for(app, other_lead)
    assert other.post(f"/claims/{claim.id}/confirm").status_code == 403
    assert other.get("/claims/confirmations").status_code == 200
    assert "There are no claims waiting for you to confirm." in other.get("/claims/confirmations").get_data(
        as_text=True
    )
    assert reload(claim).state == ClaimState.SUBMITTED
    # Staff cannot approve it before the lead confirms.
    assert client_for(app, users["staff"]).post(f"/claims/{claim.id}/approve").status_code == 403

    mine = client_for(app, lead)
    listing = mine.get("/claims/confirmations").get_data(as_text=True)
    assert "Food bank pilot" in listing and f'action="/claims/{claim.id}/confirm"' in listing
    page = mine.get(f"/claims/{claim.id}").get_data(as_text=True)
    assert "Confirm the activity happened" in page and "Approve the claim" not in page
    response = mine.post(f"/claims/{claim.id}/confirm")
    assert response.status_code == 303 and response.headers["Location"] == f"/claims/{claim.id}"
    claim = reload(claim)
    assert claim.state == ClaimState.CONFIRMED and claim.confirmed_by_id == lead.id
    assert audit_actions(claim) == ["claim.submitted", "claim.confirmed"]
    assert "You have confirmed the activity" in mine.get(f"/claims/{claim.id}").get_data(as_text=True)


def test_staff_approve_and_the_claim_page_shows_only_allowed_actions(
    app: Flask, card: Any, users: dict[str, Any]
) -> None:
    claim = submitted(users["member"], card["Meeting"])
    claimant_page = client_for(app, users["member"]).get(f"/claims/{claim.id}").get_data(as_text=True)
    assert "Approve the claim" not in claimant_page and "Reject the claim" not in claimant_page
    assert "Cancel the claim" in claimant_page

    staff = client_for(app, users["staff"])
    page = staff.get(f"/claims/{claim.id}").get_data(as_text=True)
    for words in ("Approve the claim", "Send the question", "Reject the claim", "Cancel the claim"):
        assert words in page
    assert "Confirm the activity happened" not in page
    assert "approve-confirm_over_budget" not in page  # the over-budget box appears only when needed

    response = staff.post(f"/claims/{claim.id}/approve")
    assert response.status_code == 303 and response.headers["Location"] == f"/claims/{claim.id}"
    claim = reload(claim)
    assert claim.state == ClaimState.APPROVED and claim.approved_by_id == users["staff"].id
    assert audit_actions(claim)[-1] == "claim.approved"

    # A second click on an old page: told where it stands, nothing changes.
    again = staff.post(f"/claims/{claim.id}/approve")
    assert again.status_code == 303
    assert "Someone else has just dealt with this claim" in staff.get(f"/claims/{claim.id}").get_data(as_text=True)
    assert audit_actions(claim).count("claim.approved") == 1


@pytest.mark.parametrize("role", ["staff", "finance", "admin"])
def test_nobody_approves_their_own_claim(app: Flask, card: Any, users: dict[str, Any], role: str) -> None:
    claim = submitted(users[role], card["Meeting"])
    own = client_for(app, users[role])
    assert own.post(f"/claims/{claim.id}/approve").status_code == 403
    assert own.post(f"/claims/{claim.id}/reject", data={"reject-reason": "No"}).status_code == 403
    assert own.post(f"/claims/{claim.id}/query", data={"query-question": "Why?"}).status_code == 403
    assert reload(claim).state == ClaimState.SUBMITTED
    assert "Approve the claim" not in own.get(f"/claims/{claim.id}").get_data(as_text=True)


def test_members_and_strangers_cannot_act_on_claims(app: Flask, card: Any, users: dict[str, Any]) -> None:
    claim = submitted(users["staff"], card["Meeting"])
    member = client_for(app, users["member"])
    for action in ("approve", "reject"):
        assert member.post(f"/claims/{claim.id}/{action}").status_code == 403
    for action in ("confirm", "query", "void"):
        assert member.post(f"/claims/{claim.id}/{action}").status_code == 403
    assert client_for(app, users["admin"]).post("/claims/99999/approve").status_code == 404
    assert reload(claim).state == ClaimState.SUBMITTED


def test_query_and_reject_need_words_and_change_nothing_without_them(
    app: Flask, card: Any, users: dict[str, Any]
) -> None:
    claim = submitted(users["member"], card["Meeting"])
    staff = client_for(app, users["staff"])

    response = staff.post(f"/claims/{claim.id}/query", data={"query-question": "   "})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Write the question you want to ask." in page and 'href="#query-question"' in page
    assert 'id="query-question-error"' in page and "Nothing has been changed yet" in page

    response = staff.post(f"/claims/{claim.id}/reject", data={"reject-reason": ""})
    assert response.status_code == 422
    assert "Give the reason, so the claimant understands why." in response.get_data(as_text=True)

    response = staff.post(f"/claims/{claim.id}/void", data={"void-reason": ""})
    assert response.status_code == 422
    assert "Give the reason for cancelling this claim." in response.get_data(as_text=True)

    claim = reload(claim)
    assert claim.state == ClaimState.SUBMITTED and claim.question == "" and claim.decision_reason == ""
    assert audit_actions(claim) == ["claim.submitted"]

    assert staff.post(f"/claims/{claim.id}/query", data={"query-question": "Which meeting was it?"}).status_code == 303
    claim = reload(claim)
    assert claim.state == ClaimState.QUERIED and claim.question == "Which meeting was it?"
    reject = {"reject-reason": "A duplicate of claim 1", "confirm": "yes"}
    assert staff.post(f"/claims/{claim.id}/reject", data=reject).status_code == 303
    claim = reload(claim)
    assert claim.state == ClaimState.REJECTED and claim.decision_reason == "A duplicate of claim 1"


def test_a_claimant_cancels_their_own_claim_without_a_reason(app: Flask, card: Any, users: dict[str, Any]) -> None:
    claim = submitted(users["member"], card["Meeting"])
    response = client_for(app, users["member"]).post(
        f"/claims/{claim.id}/void", data={"void-reason": "", "confirm": "yes"}
    )
    assert response.status_code == 303
    assert reload(claim).state == ClaimState.VOIDED


def test_over_budget_approval_needs_the_box_ticked_and_is_audited(app: Flask, card: Any, users: dict[str, Any]) -> None:
    lead = factories.user()
    project = factories.project(title="Small pilot", lead=lead)
    project.award_pence = 5000
    db.session.commit()
    approved(lead, card["Meeting"], users, units="2", project=project)  # £40 of £50 spent
    claim = submitted(lead, card["Meeting"], project=project)  # £20 more: £60
    staff = client_for(app, users["staff"])

    response = staff.post(f"/claims/{claim.id}/approve")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "takes Small pilot over its award" in page
    assert 'name="approve-confirm_over_budget"' in page and 'id="approve-confirm_over_budget-error"' in page
    assert reload(claim).state == ClaimState.SUBMITTED
    assert audit_actions(claim) == ["claim.submitted"]

    response = staff.post(f"/claims/{claim.id}/approve", data={"approve-confirm_over_budget": "y"})
    assert response.status_code == 303
    assert reload(claim).state == ClaimState.APPROVED
    note = db.session.scalar(
        sa.select(AuditEntry.note).where(AuditEntry.action == "claim.approved", AuditEntry.object_id == str(claim.id))
    )
    assert "approved over budget" in note


def test_someone_else_acting_at_the_same_time_is_told(
    app: Flask, card: Any, users: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    claim = submitted(users["member"], card["Meeting"])

    def lost_the_race(*args: Any, **kwargs: Any) -> None:
        raise StaleDataError("UPDATE statement on table 'claims' expected to update 1 row(s); 0 were matched.")

    monkeypatch.setattr(claims, "approve_claim", lost_the_race)
    staff = client_for(app, users["staff"])
    response = staff.post(f"/claims/{claim.id}/approve")
    assert response.status_code == 303 and response.headers["Location"] == f"/claims/{claim.id}"
    page = staff.get(f"/claims/{claim.id}").get_data(as_text=True)
    assert re.search(r'role="alert">Someone else has just dealt with this claim; here is where it stands now\.', page)
    assert reload(claim).state == ClaimState.SUBMITTED


def test_an_htmx_action_answers_with_hx_redirect(app: Flask, card: Any, users: dict[str, Any]) -> None:
    claim = submitted(users["member"], card["Meeting"])
    response = client_for(app, users["staff"]).post(f"/claims/{claim.id}/approve", headers={"HX-Request": "true"})
    assert response.status_code == 204 and response.headers["HX-Redirect"] == f"/claims/{claim.id}"


# --- the queue and the staff dashboard ----------------------------------------------------------------


def test_the_queue_filters_and_orders_claims(app: Flask, card: Any, users: dict[str, Any]) -> None:
    lead, member = factories.user(), users["member"]
    project = factories.project(title="Garden pilot", lead=lead, members=(member,))
    day = datetime.combine(london_today() - timedelta(days=10), time(12), tzinfo=UTC)
    submitted(factories.user(name="Newer Claimant"), card["Meeting"], sent=day + timedelta(days=2))
    submitted(factories.user(name="Older Claimant"), card["Meeting"], sent=day, expenses_pence=450)
    submitted(member, card["Meeting"], project=project, sent=day)  # waits for the lead
    approved(factories.user(name="Approved Claimant"), card["Meeting"], users)
    staff = client_for(app, users["staff"])

    page = staff.get("/claims/queue").get_data(as_text=True)
    assert "2 claims: £40.00 in fees and £4.50 in expenses, £44.50 in all" in text_of(page)
    assert page.index("Older Claimant") < page.index("Newer Claimant")  # longest waiting first
    assert "Garden pilot" not in page and "Approved Claimant" not in page
    assert "waiting 10 days" in page

    submitted_page = staff.get("/claims/queue?state=submitted").get_data(as_text=True)
    assert "Garden pilot" in submitted_page and "3 claims" in submitted_page
    approved_page = staff.get("/claims/queue?state=approved").get_data(as_text=True)
    assert "Approved Claimant" in approved_page and "Older Claimant" not in approved_page

    fragment = staff.get("/claims/queue?state=approved", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="results">') and "<html" not in body
    assert "HX-Request" in fragment.headers["Vary"]
    assert staff.get("/claims/queue?state=nonsense").status_code == 200  # falls back to the default


def _pay(claim_list: list[Claim], users: dict[str, Any], *, paid_on: date, reference: str) -> None:
    batch = batches.create_batch(reference=reference, claim_ids=[c.id for c in claim_list], by=users["finance"])
    batches.mark_batch_paid(
        batch, paid_on=paid_on, payment_reference=f"PAID-{reference}", by=users["finance"], today=london_today()
    )
    db.session.commit()


def test_staff_dashboard_counts_totals_oldest_and_median_days(app: Flask, card: Any, users: dict[str, Any]) -> None:
    app.config["PAYMENT_TARGET_DAYS"] = 30
    today = london_today()

    def sent(days_ago: int) -> datetime:
        return datetime.combine(today - timedelta(days=days_ago), time(12), tzinfo=UTC)

    member = users["member"]
    submitted(member, card["Meeting"], sent=sent(3))
    submitted(member, card["Meeting"], units="2", sent=sent(12), expenses_pence=1250)
    approved(member, card["Panel review"], users, sent=sent(2))
    for days_to_pay, days_ago_paid in ((10, 5), (20, 30), (40, 60)):
        paid = approved(member, card["Meeting"], users, sent=sent(days_ago_paid + days_to_pay))
        _pay([paid], users, paid_on=today - timedelta(days=days_ago_paid), reference=f"B{days_to_pay}")
    old = approved(member, card["Meeting"], users, sent=sent(300))  # paid outside the 90 days: not counted
    _pay([old], users, paid_on=today - timedelta(days=100), reference="OLD")

    speed = dashboards.payment_speed(today, 30)
    assert (speed.claims, speed.median_days, speed.within_target) == (3, 20, 2)

    page = text_of(client_for(app, users["staff"]).get("/staff/payments"))
    assert "Sent, waiting for the project lead or for approval 2 £60.00 £12.50 £72.50" in page
    assert "Approved, waiting for a payment batch 1 £150.00 £0.00 £150.00" in page
    assert "Confirmed by the project lead, waiting for approval 0 £0.00" in page
    assert "20 days is the median for the 3 claims paid since" in page and "On target" in page
    assert "2 of 3 were paid within 30 days" in page
    assert "sent " + (today - timedelta(days=12)).strftime("%-d %B %Y") + " (waiting 12 days)" in page


def test_median_of_an_even_number_and_a_slow_programme(app: Flask, card: Any, users: dict[str, Any]) -> None:
    today = london_today()
    for days_to_pay in (31, 40):
        paid = approved(
            users["member"],
            card["Meeting"],
            users,
            sent=datetime.combine(today - timedelta(days=days_to_pay + 1), time(12), tzinfo=UTC),
        )
        _pay([paid], users, paid_on=today - timedelta(days=1), reference=f"B{days_to_pay}")
    page = text_of(client_for(app, users["staff"]).get("/staff/payments"))
    assert "35.5 days is the median" in page and "Slower than the target" in page


# --- finance: batches, paying, the CSV, payees --------------------------------------------------------


def test_finance_creates_a_batch_and_a_claim_goes_in_one_batch_only(
    app: Flask, card: Any, users: dict[str, Any]
) -> None:
    first = approved(factories.user(name="Ann Payee"), card["Meeting"], users)
    second = approved(factories.user(name="Bo Payee"), card["Meeting"], users, expenses_pence=300)
    finance = client_for(app, users["finance"])
    page = finance.get("/finance").get_data(as_text=True)
    assert f'name="claim_ids" value="{first.id}"' in page and "Ann Payee" in page
    assert f'href="/finance/payees/{first.claimant_id}"' in page
    assert "2 claims: £40.00 in fees and £3.00 in expenses, £43.00 in all" in text_of(page)

    response = finance.post("/finance/batches", data={"reference": "", "claim_ids": [str(first.id)]})
    assert response.status_code == 422 and "Enter a reference for this payment run." in response.get_data(as_text=True)
    response = finance.post("/finance/batches", data={"reference": "PAY-1"})
    assert response.status_code == 422 and "Choose at least one approved claim." in response.get_data(as_text=True)
    response = finance.post("/finance/batches", data={"reference": "PAY-1", "claim_ids": ["x"]})
    assert response.status_code == 422 and "Choose claims from the list." in response.get_data(as_text=True)
    assert count(PaymentBatch) == 0

    response = finance.post(
        "/finance/batches", data={"reference": "PAY-1", "claim_ids": [str(first.id), str(second.id)]}
    )
    assert response.status_code == 303
    batch = db.session.scalar(sa.select(PaymentBatch))
    assert response.headers["Location"] == f"/finance/batches/{batch.id}"
    assert {reload(first).state, reload(second).state} == {ClaimState.IN_BATCH}

    response = finance.post("/finance/batches", data={"reference": "PAY-2", "claim_ids": [str(first.id)]})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "These claims are not approved and waiting to be paid" in page and 'href="#claim_ids"' in page
    assert count(PaymentBatch) == 1 and reload(first).batch_id == batch.id

    dashboard = finance.get("/finance").get_data(as_text=True)
    assert "PAY-1" in dashboard and "There are no approved claims waiting" in dashboard
    listing = finance.get("/finance/batches?state=awaiting_payment").get_data(as_text=True)
    assert "PAY-1" in listing and "£43.00" in listing
    assert "PAY-1" not in finance.get("/finance/batches?state=paid").get_data(as_text=True)


def test_finance_marks_a_batch_paid(app: Flask, card: Any, users: dict[str, Any]) -> None:
    claim = approved(users["member"], card["Meeting"], users)
    batch = batches.create_batch(reference="PAY-7", claim_ids=[claim.id], by=users["finance"])
    db.session.commit()
    finance = client_for(app, users["finance"])
    page = finance.get(f"/finance/batches/{batch.id}").get_data(as_text=True)
    assert "Mark the batch paid" in page and "£20.00" in page

    tomorrow = (london_today() + timedelta(days=1)).isoformat()
    response = finance.post(f"/finance/batches/{batch.id}/paid", data={"paid_on": tomorrow, "payment_reference": "B1"})
    assert response.status_code == 422
    assert "The payment date must be today or in the past." in response.get_data(as_text=True)
    response = finance.post(
        f"/finance/batches/{batch.id}/paid", data={"paid_on": "31/02/2026", "payment_reference": "B1"}
    )
    assert response.status_code == 422 and "Enter a real date" in response.get_data(as_text=True)
    response = finance.post(f"/finance/batches/{batch.id}/paid", data={"paid_on": london_today().isoformat()})
    assert response.status_code == 422
    assert "Enter the payment reference from the finance system." in response.get_data(as_text=True)
    assert reload(claim).state == ClaimState.IN_BATCH

    paid_on = london_today() - timedelta(days=1)
    response = finance.post(
        f"/finance/batches/{batch.id}/paid",
        data={"paid_on": paid_on.isoformat(), "payment_reference": "BACS-991", "confirm": "yes"},
    )
    assert response.status_code == 303 and response.headers["Location"] == f"/finance/batches/{batch.id}"
    claim = reload(claim)
    assert claim.state == ClaimState.PAID and claim.paid_on == paid_on
    found = db.session.get(PaymentBatch, batch.id)
    assert found.state == BatchState.PAID and found.payment_reference == "BACS-991"
    assert "Mark the batch paid" not in finance.get(f"/finance/batches/{batch.id}").get_data(as_text=True)
    assert finance.get("/finance/batches/99999").status_code == 404


def test_the_batch_csv(app: Flask, card: Any, users: dict[str, Any]) -> None:
    payee, decliner = factories.user(name="Pat Payee"), factories.user(name="Dee Decliner")
    db.session.add_all(
        [
            PaymentPreference(user_id=payee.id, method=PaymentMethod.VOUCHER, payee_reference="SUP-0042"),
            PaymentPreference(user_id=decliner.id, method=PaymentMethod.DECLINE),
        ]
    )
    db.session.commit()
    with_expenses = approved(payee, card["Panel review"], users, expenses_pence=1250)
    declined = approved(decliner, card["Meeting"], users, units="2")
    batch = batches.create_batch(
        reference="PAY-2026-11", claim_ids=[with_expenses.id, declined.id], by=users["finance"]
    )
    db.session.commit()

    # buffered: the streamed body is read while the request's context is still there
    response = client_for(app, users["finance"]).get(f"/finance/batches/{batch.id}/csv", buffered=True)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="batch-PAY-2026-11.csv"'
    text = response.get_data(as_text=True)
    assert text.splitlines()[0] == (
        "claim_id,payee_name,payee_reference,payment_method,activity_date,activity_type,"
        "units,unit,rate,fee,expenses,total,project_or_cost_code,submitted_at,"
        "approved_by,approved_at,batch_reference"
    )
    rows = {row["claim_id"]: row for row in csv.DictReader(io.StringIO(text))}
    paid = rows[str(with_expenses.id)]
    assert [
        paid[k]
        for k in (
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
            "approved_by",
            "batch_reference",
        )
    ] == [
        "Pat Payee",
        "SUP-0042",
        "voucher",
        CLAIM_DAY.isoformat(),
        "Panel review",
        "1.00",
        "day",
        "150.00",
        "150.00",
        "12.50",
        "162.50",
        "PROGRAMME",
        "Staff Person",
        "PAY-2026-11",
    ]
    for moment in (paid["submitted_at"], paid["approved_at"]):
        assert datetime.fromisoformat(moment).tzinfo is not None and "T" in moment
    nothing = rows[str(declined.id)]
    assert (nothing["payment_method"], nothing["fee"], nothing["expenses"], nothing["total"], nothing["rate"]) == (
        "decline",
        "0.00",
        "0.00",
        "0.00",
        "20.00",
    )
    assert len(rows) == 2


def test_finance_sets_a_payee_reference_and_it_is_audited(app: Flask, card: Any, users: dict[str, Any]) -> None:
    person = factories.user(name="Pay Me")
    finance = client_for(app, users["finance"])
    page = finance.get(f"/finance/payees/{person.id}").get_data(as_text=True)
    assert "Not chosen yet, so by bank transfer" in page and "never stores bank details" in page

    response = finance.post(f"/finance/payees/{person.id}", data={"payee_reference": "12-34-56 bad!"})
    assert response.status_code == 422 and "Use letters, numbers, spaces" in response.get_data(as_text=True)
    assert db.session.get(PaymentPreference, person.id) is None

    response = finance.post(f"/finance/payees/{person.id}", data={"payee_reference": " SUP-0042 "})
    assert response.status_code == 303
    preference = db.session.get(PaymentPreference, person.id)
    assert preference.payee_reference == "SUP-0042" and preference.method == PaymentMethod.BANK_TRANSFER
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "payee_reference.set"))
    assert entry.object_type == "User" and entry.object_id == str(person.id) and entry.actor_id == users["finance"].id
    assert entry.before == {"payee_reference": ""} and entry.after == {"payee_reference": "SUP-0042"}
    assert "SUP-0042" in finance.get(f"/finance/payees/{person.id}").get_data(as_text=True)
    assert finance.get("/finance/payees/99999").status_code == 404


# --- the rate card -------------------------------------------------------------------------------------


def test_a_new_rate_from_a_date_and_existing_claims_keep_theirs(app: Flask, card: Any, users: dict[str, Any]) -> None:
    meeting = card["Meeting"]
    existing = submitted(users["member"], meeting, units="2")
    admin = client_for(app, users["admin"])
    page = admin.get("/admin/rates").get_data(as_text=True)
    assert "£20.00 an hour" in page and "never changes a claim that has already been made" in page
    assert f'id="rate-{meeting.id}-amount"' in page

    field = f"rate-{meeting.id}"
    for amount, message in (
        ("27.505", "Enter the amount in pounds and pence, like 27.50."),
        ("abc", "Enter the amount in pounds and pence, like 27.50."),
        ("0", "Enter an amount more than £0 and no more than £100,000."),
        ("", "Enter the new amount in pounds and pence, like 27.50."),
    ):
        response = admin.post(
            f"/admin/rates/{meeting.id}", data={f"{field}-amount": amount, f"{field}-effective_from": "2026-01-01"}
        )
        assert response.status_code == 422, amount
        page = response.get_data(as_text=True)
        assert message in page and f'href="#{field}-amount"' in page
    response = admin.post(
        f"/admin/rates/{meeting.id}", data={f"{field}-amount": "25.00", f"{field}-effective_from": ""}
    )
    assert response.status_code == 422 and "Enter the date the new rate starts" in response.get_data(as_text=True)
    response = admin.post(
        f"/admin/rates/{meeting.id}", data={f"{field}-amount": "25.00", f"{field}-effective_from": "2025-01-01"}
    )
    assert response.status_code == 422
    assert "This activity already has a rate from that date." in response.get_data(as_text=True)
    assert count(Rate) == 2

    starts = CLAIM_DAY - timedelta(days=1)
    response = admin.post(
        f"/admin/rates/{meeting.id}", data={f"{field}-amount": "27.50", f"{field}-effective_from": starts.isoformat()}
    )
    assert response.status_code == 303 and response.headers["Location"] == f"/admin/rates#activity-{meeting.id}"
    new = db.session.scalar(sa.select(Rate).where(Rate.effective_from == starts))
    assert new.amount_pence == 2750 and isinstance(new.amount_pence, int)
    existing = reload(existing)
    assert (existing.rate_pence, existing.fee_pence) == (2000, 4000)  # unchanged by the new rate
    fresh = claims.create_claim(
        users["member"], claims.ClaimDetails(meeting.id, CLAIM_DAY, Decimal("2")), today=london_today()
    )
    assert fresh.rate_pence == 2750 and fresh.fee_pence == 5500
    db.session.rollback()
    page = admin.get("/admin/rates").get_data(as_text=True)
    assert "£27.50 an hour" in page and "In force today" in page and "No longer in force" in page


def test_a_future_rate_and_adding_an_activity(app: Flask, card: Any, users: dict[str, Any]) -> None:
    admin = client_for(app, users["admin"])
    response = admin.post("/admin/rates/activities", data={"name": "Focus group", "unit": "half_day"})
    assert response.status_code == 303
    activity = db.session.scalar(sa.select(ActivityType).where(ActivityType.name == "Focus group"))
    assert activity.unit == Unit.HALF_DAY
    assert "No rate yet" in admin.get("/admin/rates").get_data(as_text=True)

    response = admin.post("/admin/rates/activities", data={"name": "focus group", "unit": "day"})
    assert response.status_code == 422 and "There is already an activity with this name." in response.get_data(
        as_text=True
    )
    response = admin.post("/admin/rates/activities", data={"name": "Walk", "unit": "week"})
    assert response.status_code == 422 and "Choose how this activity is paid" in response.get_data(as_text=True)
    response = admin.post("/admin/rates/activities", data={"name": "", "unit": "day"})
    assert response.status_code == 422 and "Enter a name for the activity." in response.get_data(as_text=True)
    assert count(ActivityType) == 3

    future = london_today() + timedelta(days=30)
    field = f"rate-{activity.id}"
    assert (
        admin.post(
            f"/admin/rates/{activity.id}",
            data={f"{field}-amount": "1,050.5", f"{field}-effective_from": future.isoformat()},
        ).status_code
        == 303
    )
    assert rates.rate_in_force(activity.id, future).amount_pence == 105050
    assert "Starts in the future" in admin.get("/admin/rates").get_data(as_text=True)
    assert admin.post("/admin/rates/99999", data={}).status_code == 404


# --- who may see what ---------------------------------------------------------------------------------


PAGES = {
    # url -> roles allowed (besides admin, who may do everything)
    "/claims/queue": {"staff", "finance"},
    "/staff/payments": {"staff", "finance"},
    "/finance": {"finance"},
    "/finance/batches": {"finance"},
    "/admin/rates": set(),
}


@pytest.mark.parametrize("url", sorted(PAGES))
@pytest.mark.parametrize("role", ["anonymous", "member", "staff", "finance", "admin"])
def test_staff_finance_and_admin_pages_refuse_others(as_role: Any, url: str, role: str) -> None:
    response = as_role(role).get(url)
    if role == "anonymous":
        assert response.status_code in (302, 303) and "/account/sign-in" in response.headers["Location"]
    elif role in PAGES[url] or role == "admin":
        assert response.status_code == 200
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("role", ["member", "staff"])
def test_finance_and_rate_changes_refuse_members_and_staff(
    app: Flask, card: Any, users: dict[str, Any], role: str
) -> None:
    claim = approved(users["admin"], card["Meeting"], users)
    batch = batches.create_batch(reference="B1", claim_ids=[claim.id], by=users["finance"])
    db.session.commit()
    client = client_for(app, users[role])
    for method, url, data in (
        ("POST", "/finance/batches", {"reference": "B2", "claim_ids": [str(claim.id)]}),
        ("GET", f"/finance/batches/{batch.id}", {}),
        ("GET", f"/finance/batches/{batch.id}/csv", {}),
        (
            "POST",
            f"/finance/batches/{batch.id}/paid",
            {"paid_on": london_today().isoformat(), "payment_reference": "x"},
        ),
        ("GET", f"/finance/payees/{users['member'].id}", {}),
        ("POST", f"/finance/payees/{users['member'].id}", {"payee_reference": "X1"}),
        ("POST", "/admin/rates/activities", {"name": "Sneaky", "unit": "day"}),
        ("POST", f"/admin/rates/{card['Meeting'].id}", {}),
    ):
        assert client.open(url, method=method, data=data).status_code == 403, url
    assert db.session.get(PaymentBatch, batch.id).state == BatchState.AWAITING_PAYMENT
    assert count(ActivityType) == 2 and db.session.get(PaymentPreference, users["member"].id) is None


def test_finance_can_approve_others_claims(app: Flask, card: Any, users: dict[str, Any]) -> None:
    claim = submitted(users["member"], card["Meeting"])
    assert client_for(app, users["finance"]).post(f"/claims/{claim.id}/approve").status_code == 303
    assert reload(claim).state == ClaimState.APPROVED


# --- no N+1 ---------------------------------------------------------------------------------------------


def _claims_by_new_people(how_many: int, card: Any, users: dict[str, Any], *, approve: bool) -> None:
    for number in range(how_many):
        person = factories.user()
        project = factories.project(title=f"Pilot {number}", lead=person)
        if number % 2:
            db.session.add(
                PaymentPreference(user_id=person.id, method=PaymentMethod.VOUCHER, payee_reference=f"SUP-{number}")
            )
            db.session.commit()
        claim = submitted(person, card["Meeting"], project=project, expenses_pence=100 + number)
        if approve:
            claims.approve_claim(claim, by=users["staff"], now=utcnow())
            db.session.commit()


@pytest.mark.parametrize(("url", "approve"), [("/claims/queue", False), ("/finance", True)])
def test_list_pages_make_the_same_number_of_queries_for_5_and_50_claims(
    app: Flask, card: Any, users: dict[str, Any], url: str, approve: bool
) -> None:
    app.config["PAGE_SIZE"] = 100
    client = client_for(app, users["finance"])
    _claims_by_new_people(5, card, users, approve=approve)
    with_few = queries_for(client, url)
    _claims_by_new_people(45, card, users, approve=approve)
    page = client.get(url).get_data(as_text=True)
    assert "50 claims" in page and "Page 1 of" not in page
    assert queries_for(client, url) == with_few
