"""Claimant pages through the test client: claims, expenses and receipts, sending with the
earnings-limit warning, the payments page, preferences and statements."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from portal.core.audit import AuditEntry
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.remuneration import batches, benefits, claim_views, claims, rates
from portal.remuneration.models import (
    ActivityType,
    Claim,
    ClaimState,
    ExpenseCategory,
    ExpenseLine,
    PaymentMethod,
    PaymentPreference,
    Unit,
)
from tests import factories, media_samples
from tests.helpers import queries_for, sign_in

TODAY = london_today()
NOW = datetime.now(UTC)
PDF = media_samples.pdf()
PNG = media_samples.png()


# --- test data, made here so other areas' factories stay untouched ------------------------------


@pytest.fixture
def card(app: Flask, users: dict[str, Any]) -> dict[str, ActivityType]:
    """A small rate card: £20 an hour for meetings, £150 a day for panel reviews."""
    made = {}
    for name, unit, pence in (("Meeting", Unit.HOUR, 2000), ("Panel review", Unit.DAY, 15000)):
        activity = rates.add_activity_type(name=name, unit=unit, by=users["admin"])
        rates.set_rate(activity, amount_pence=pence, effective_from=date(2020, 1, 1), by=users["admin"])
        made[name] = activity
    retired = rates.add_activity_type(name="Retired activity", unit=Unit.HOUR, by=users["admin"])
    rates.set_rate(retired, amount_pence=999, effective_from=date(2020, 1, 1), by=users["admin"])
    retired.is_active = False
    db.session.commit()
    return made


def make_claim(
    claimant: Any,
    activity: ActivityType,
    *,
    on: date = TODAY,
    units: str = "1",
    project: Any = None,
    submit: bool = False,
) -> Claim:
    claim = claims.create_claim(
        claimant, claims.ClaimDetails(activity.id, on, Decimal(units), project.id if project else None), today=TODAY
    )
    if submit:
        assert claims.submit_claim(claim, by=claimant, now=NOW) == []
    db.session.commit()
    return claim


def add_line(claim: Claim, by: Any, pence: int, category: ExpenseCategory = ExpenseCategory.TRAVEL) -> ExpenseLine:
    line = claims.add_expense(
        claim, by=by, category=category, description="Bus", amount_pence=pence, miles=None, mileage_rate_pence=45
    )
    db.session.commit()
    return line


def set_preference(user: Any, **values: Any) -> None:
    db.session.add(PaymentPreference(user_id=user.id, **values))
    db.session.commit()


def claim_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Claim))


def text_of(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def error_for(page: str, field: str) -> str:
    """The inline error shown next to a field (empty if none)."""
    match = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', page, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else ""


def receipts_dir(app: Flask) -> Path:
    return Path(app.instance_path) / "uploads" / "receipts"


def stored_files(app: Flask) -> list[Path]:
    folder = receipts_dir(app)
    return sorted(folder.iterdir()) if folder.exists() else []


def upload(data: bytes, name: str) -> tuple[io.BytesIO, str]:
    return io.BytesIO(data), name


def post_closing_upload(client: Any, url: str, data: dict[str, Any]) -> Any:
    """POST a multipart body, closing the temporary file the test client spools large bodies to."""
    builder = EnvironBuilder(path=url, method="POST", data=data)
    environ = builder.get_environ()
    try:
        return client.open(Request(environ))
    finally:
        environ["wsgi.input"].close()
        builder.close()


# --- making a claim ----------------------------------------------------------------------------


def test_new_claim_form_offers_active_activities_and_own_projects(
    card: Any, as_role: Any, users: dict[str, Any]
) -> None:
    own = factories.project(title="Our allotment pilot", lead=factories.user(), members=(users["member"],))
    factories.project(title="Someone else's pilot", lead=factories.user())
    page = text_of(as_role("member").get("/claims/new"))
    assert "Meeting (£20.00 an hour)" in page and "Panel review (£150.00 a day)" in page
    assert "Retired activity" not in page
    assert f'value="{own.id}"' in page and "Our allotment pilot" in page
    assert "The programme (no project)" in page and "Someone else's pilot" not in page
    assert f'max="{TODAY.isoformat()}"' in page and "novalidate" in page


def test_a_member_creates_a_draft_claim(card: Any, as_role: Any, users: dict[str, Any]) -> None:
    project = factories.project(lead=factories.user(), members=(users["member"],))
    client = as_role("member")
    response = client.post(
        "/claims/new",
        data={
            "activity_type_id": str(card["Meeting"].id),
            "activity_date": TODAY.isoformat(),
            "units": "1.5",
            "project_id": str(project.id),
            "notes": "  Planning meeting  ",
        },
    )
    assert response.status_code == 303
    claim = db.session.scalars(sa.select(Claim)).one()
    assert response.headers["Location"].endswith(f"/claims/{claim.id}")
    assert (claim.state, claim.claimant_id, claim.project_id) == (ClaimState.DRAFT, users["member"].id, project.id)
    assert (claim.units, claim.rate_pence, claim.fee_pence, claim.notes) == (
        Decimal("1.5"),
        2000,
        3000,
        "Planning meeting",
    )
    page = text_of(client.get(f"/claims/{claim.id}"))
    assert "1.5 hours × £20.00 per hour = £30.00" in page and "Draft" in page and "Send claim" in page


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"activity_type_id": ""}, "activity_type_id", "Choose the kind of activity."),
        ({"units": "abc"}, "units", "Enter a number, like 1 or 1.5"),
        ({"units": "1.555"}, "units", "no more than two decimal places"),
        ({"units": "0"}, "units", "more than 0"),
        ({"units": "25"}, "units", "no more than 24 hours"),
        ({"units": ""}, "units", "Enter how much time"),
        ({"activity_date": ""}, "activity_date", "Enter the date of the activity."),
        ({"activity_date": "31/02/2026"}, "activity_date", "Enter a real date"),
        ({"activity_date": (TODAY + timedelta(days=1)).isoformat()}, "activity_date", "today or in the past"),
        ({"activity_date": "2019-06-01"}, "activity_date", "There is no rate for this activity on that date"),
        ({"project_id": "OTHER"}, "project_id", "Choose one of your own projects"),
        ({"project_id": "abc"}, "project_id", "Choose one of your own projects"),
    ],
)
def test_bad_claims_get_a_message_next_to_the_field_and_nothing_is_saved(
    card: Any, as_role: Any, users: dict[str, Any], change: dict[str, str], field: str, message: str
) -> None:
    if change.get("project_id") == "OTHER":
        change = {"project_id": str(factories.project(lead=factories.user()).id)}
    data = {
        "activity_type_id": str(card["Meeting"].id),
        "activity_date": TODAY.isoformat(),
        "units": "1",
        "project_id": "",
        **change,
    }
    response = as_role("member").post("/claims/new", data=data)
    page = text_of(response)
    assert response.status_code == 422
    assert message in error_for(page, field)
    assert f'href="#{field}"' in page  # the error summary links to the field
    assert claim_count() == 0


def test_edit_a_draft_and_only_the_claimant_may(card: Any, as_role: Any, users: dict[str, Any]) -> None:
    claim = make_claim(users["member"], card["Meeting"], units="1")
    member = as_role("member")
    form = text_of(member.get(f"/claims/{claim.id}/edit"))
    assert re.search(r'<input [^>]*name="units"[^>]*value="1"', form)
    response = member.post(
        f"/claims/{claim.id}/edit",
        data={
            "activity_type_id": str(card["Panel review"].id),
            "activity_date": TODAY.isoformat(),
            "units": "0.5",
            "project_id": "",
            "notes": "Half a day",
        },
    )
    assert response.status_code == 303
    db.session.refresh(claim)
    assert (claim.activity_type_id, claim.fee_pence, claim.notes) == (card["Panel review"].id, 7500, "Half a day")
    assert as_role("staff").get(f"/claims/{claim.id}/edit").status_code == 403
    refused = member.post(
        f"/claims/{claim.id}/edit",
        data={"activity_type_id": str(card["Meeting"].id), "activity_date": TODAY.isoformat(), "units": "99"},
    )
    assert refused.status_code == 422 and "no more than" in error_for(text_of(refused), "units")
    db.session.refresh(claim)
    assert claim.fee_pence == 7500
    member.post(f"/claims/{claim.id}/submit", data={})
    assert member.get(f"/claims/{claim.id}/edit").status_code == 403  # sent claims are not edited


# --- expenses and receipts -----------------------------------------------------------------------


def test_mileage_reads_as_miles_at_a_rate_a_mile() -> None:
    assert claim_views.mileage(Decimal("10.0"), 45) == "10 miles at 45p a mile"
    assert claim_views.mileage(Decimal("1.0"), 45) == "1 mile at 45p a mile"
    assert claim_views.mileage(Decimal("12.5"), 150) == "12.5 miles at £1.50 a mile"


def test_expenses_mileage_is_computed_and_a_pdf_receipt_is_kept(
    app: Flask, card: Any, as_role: Any, users: dict[str, Any]
) -> None:
    app.config["MILEAGE_RATE_PENCE"] = 45
    claim = make_claim(users["member"], card["Meeting"])
    member = as_role("member")
    page = text_of(member.get(f"/claims/{claim.id}"))
    assert 'enctype="multipart/form-data"' in page and "45p a mile, so 10 miles is £4.50" in page
    mileage = member.post(
        f"/claims/{claim.id}/expenses",
        data={"category": "mileage", "description": "To the venue", "miles": "12.5", "amount": ""},
    )
    assert mileage.status_code == 303
    train = member.post(
        f"/claims/{claim.id}/expenses",
        data={"category": "travel", "description": "Train", "amount": "£12.50", "receipt": upload(PDF, "ticket.pdf")},
    )
    assert train.status_code == 303
    lines = db.session.scalars(sa.select(ExpenseLine).order_by(ExpenseLine.id)).all()
    assert [(line.category, line.amount_pence) for line in lines] == [
        (ExpenseCategory.MILEAGE, 563),
        (ExpenseCategory.TRAVEL, 1250),
    ]  # 12.5 x 45p = 562.5 -> 563
    receipt = lines[1]
    assert receipt.receipt_filename == "ticket.pdf" and receipt.receipt_content_type == "application/pdf"
    assert stored_files(app) == [receipts_dir(app) / receipt.receipt_stored_name]
    db.session.refresh(claim)
    assert claim.fee_pence == 2000  # expenses are kept apart from the fee
    page = text_of(member.get(f"/claims/{claim.id}"))
    assert "£5.63" in page and "£12.50" in page and "Download ticket.pdf" in page
    assert "12.5 miles at 45p a mile" in page
    assert "£38.13" in page  # to be paid: £20.00 fee + £18.13 expenses
    with member.get(f"/claims/{claim.id}/expenses/{receipt.id}/receipt") as download:
        assert download.status_code == 200 and download.data == PDF
        assert download.mimetype == "application/pdf"
        assert download.headers["Content-Disposition"].startswith("attachment")
        assert "ticket.pdf" in download.headers["Content-Disposition"]
        assert download.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"category": "mileage", "miles": ""}, "miles", "Enter the number of miles"),
        ({"category": "mileage", "miles": "12.55"}, "miles", "Enter the miles as a number"),
        ({"category": "travel", "amount": ""}, "amount", "Enter an amount more than £0"),
        ({"category": "travel", "amount": "12.345"}, "amount", "Enter an amount in pounds and pence"),
        ({"category": "travel", "amount": "abc"}, "amount", "Enter an amount in pounds and pence"),
        ({"category": "travel", "amount": "6000.00"}, "amount", "no more than £5,000"),
        ({"category": "wine", "amount": "5.00"}, "category", "Choose the type of expense."),
    ],
)
def test_bad_expenses_are_refused_next_to_the_field(
    app: Flask, card: Any, as_role: Any, users: dict[str, Any], data: dict[str, str], field: str, message: str
) -> None:
    claim = make_claim(users["member"], card["Meeting"])
    response = as_role("member").post(
        f"/claims/{claim.id}/expenses", data={**data, "receipt": upload(PDF, "receipt.pdf")}
    )
    assert response.status_code == 422
    assert message in error_for(text_of(response), field)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExpenseLine)) == 0
    assert stored_files(app) == []  # the receipt is not kept without its expense


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"%PDF-" + b"0" * (1024 * 1024), "big.pdf", "no bigger than 1 MB"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 100, "receipt.pdf", "must be a PDF, JPEG or PNG"),
        (b"#!/bin/sh\nrm -rf /\n", "../../etc/passwd.pdf", "must be a PDF, JPEG or PNG"),
        (b"", "empty.pdf", "The file you chose is empty"),
    ],
)
def test_bad_receipts_are_refused(
    app: Flask, card: Any, as_role: Any, users: dict[str, Any], content: bytes, name: str, message: str
) -> None:
    app.config["RECEIPT_MAX_BYTES"] = 1024 * 1024
    claim = make_claim(users["member"], card["Meeting"])
    response = post_closing_upload(
        as_role("member"),
        f"/claims/{claim.id}/expenses",
        data={"category": "travel", "amount": "3.00", "receipt": upload(content, name)},
    )
    assert response.status_code == 422
    assert message in error_for(text_of(response), "receipt")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExpenseLine)) == 0
    assert stored_files(app) == []


def test_no_file_chosen_keeps_the_expense_without_a_receipt(
    app: Flask, card: Any, as_role: Any, users: dict[str, Any]
) -> None:
    claim = make_claim(users["member"], card["Meeting"])
    # A browser sends an empty file part with no file name when no file is chosen.
    response = as_role("member").post(
        f"/claims/{claim.id}/expenses", data={"category": "travel", "amount": "3.00", "receipt": upload(b"", "")}
    )
    assert response.status_code == 303
    assert db.session.scalars(sa.select(ExpenseLine)).one().receipt_stored_name is None
    assert stored_files(app) == []


def test_a_path_traversal_file_name_is_stored_safely(
    app: Flask, tmp_path: Path, card: Any, as_role: Any, users: dict[str, Any]
) -> None:
    claim = make_claim(users["member"], card["Meeting"])
    response = as_role("member").post(
        f"/claims/{claim.id}/expenses",
        data={"category": "travel", "amount": "3.00", "receipt": upload(PNG, "../../etc/passwd.pdf")},
    )
    assert response.status_code == 303
    line = db.session.scalars(sa.select(ExpenseLine)).one()
    assert re.fullmatch(r"[0-9a-f]{32}\.png", line.receipt_stored_name)  # the extension of what it is
    assert line.receipt_filename == "etc_passwd.png" and line.receipt_content_type == "image/png"
    assert stored_files(app) == [receipts_dir(app) / line.receipt_stored_name]
    assert not list(tmp_path.rglob("passwd*"))  # nothing landed anywhere under its own name


def test_a_receipt_is_not_left_behind_when_saving_fails(
    app: Flask, card: Any, as_role: Any, users: dict[str, Any], monkeypatch: Any
) -> None:
    claim = make_claim(users["member"], card["Meeting"])
    member = as_role("member")

    def broken_commit() -> None:
        raise sa.exc.OperationalError("COMMIT", {}, Exception("database went away"))

    with monkeypatch.context() as patch:
        patch.setattr(db.session, "commit", broken_commit)
        response = member.post(
            f"/claims/{claim.id}/expenses",
            data={"category": "travel", "amount": "3.00", "receipt": upload(PDF, "receipt.pdf")},
        )
        assert response.status_code == 503  # the database went away: "try again in a few minutes"
    db.session.rollback()
    assert stored_files(app) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExpenseLine)) == 0


def test_removing_an_expense_deletes_its_receipt(app: Flask, card: Any, as_role: Any, users: dict[str, Any]) -> None:
    claim = make_claim(users["member"], card["Meeting"])
    other = make_claim(users["member"], card["Meeting"])
    elsewhere = add_line(other, users["member"], 100)
    member = as_role("member")
    member.post(
        f"/claims/{claim.id}/expenses",
        data={"category": "travel", "amount": "3.00", "receipt": upload(PDF, "receipt.pdf")},
    )
    line = db.session.scalars(sa.select(ExpenseLine).where(ExpenseLine.claim_id == claim.id)).one()
    assert len(stored_files(app)) == 1
    assert member.post(f"/claims/{claim.id}/expenses/{elsewhere.id}/delete").status_code == 404
    assert as_role("staff").post(f"/claims/{claim.id}/expenses/{line.id}/delete").status_code == 403
    assert member.post(f"/claims/{claim.id}/expenses/{line.id}/delete").status_code == 303
    assert db.session.scalars(sa.select(ExpenseLine.id)).all() == [elsewhere.id]
    assert stored_files(app) == []


def test_claims_and_receipts_are_private_to_the_claimant_staff_and_finance(
    app: Flask, card: Any, as_role: Any, users: dict[str, Any]
) -> None:
    claim = make_claim(users["member"], card["Meeting"])
    as_role("member").post(
        f"/claims/{claim.id}/expenses",
        data={"category": "travel", "amount": "3.00", "receipt": upload(PDF, "receipt.pdf")},
    )
    line = db.session.scalars(sa.select(ExpenseLine)).one()
    receipt_url = f"/claims/{claim.id}/expenses/{line.id}/receipt"
    intruder = factories.user(email="intruder@example.test")
    other = app.test_client()
    sign_in(other, intruder.email)
    assert other.get(f"/claims/{claim.id}").status_code == 403
    assert other.get(receipt_url).status_code == 403
    assert other.get(f"/claims/{claim.id}/edit").status_code == 403
    assert other.post(f"/claims/{claim.id}/expenses", data={"category": "travel", "amount": "1"}).status_code == 403
    assert other.post(f"/claims/{claim.id}/expenses/{line.id}/delete").status_code == 403
    assert other.post(f"/claims/{claim.id}/submit").status_code == 403
    visitor = as_role("anonymous").get(receipt_url)
    assert visitor.status_code in (302, 303) and "/account/sign-in" in visitor.headers["Location"]
    for role in ("staff", "finance"):
        client = as_role(role)
        page = text_of(client.get(f"/claims/{claim.id}"))
        assert "Add an expense" not in page and "by Member Person" in page
        with client.get(receipt_url) as download:
            assert download.status_code == 200 and download.data == PDF
    own_other_claim = make_claim(users["member"], card["Meeting"])
    assert as_role("member").get(f"/claims/{own_other_claim.id}/expenses/{line.id}/receipt").status_code == 404
    no_receipt = add_line(own_other_claim, users["member"], 100)
    assert as_role("member").get(f"/claims/{own_other_claim.id}/expenses/{no_receipt.id}/receipt").status_code == 404
    assert as_role("member").get("/claims/999999").status_code == 404


# --- sending a claim, and the earnings-limit warning ----------------------------------------------


def test_send_a_claim_under_the_limit(card: Any, as_role: Any, users: dict[str, Any]) -> None:
    set_preference(users["member"], weekly_limit_pence=19600)
    claim = make_claim(users["member"], card["Meeting"], units="2")
    member = as_role("member")
    response = member.post(f"/claims/{claim.id}/submit", data={})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/claims/{claim.id}")
    db.session.refresh(claim)
    assert claim.state == ClaimState.SUBMITTED and claim.fee_pence == 4000 and claim.submitted_at is not None
    page = text_of(member.get(f"/claims/{claim.id}"))
    assert "Sent for checking by Member Person" in page and "Send claim" not in page


@pytest.fixture
def over_the_weekly_limit(card: Any, users: dict[str, Any]) -> Claim:
    """£150 already claimed this week against a £196 limit; this £60 claim would make £210."""
    member = users["member"]
    set_preference(member, weekly_limit_pence=19600)
    make_claim(member, card["Panel review"], submit=True)
    return make_claim(member, card["Meeting"], units="3")


def test_over_the_weekly_limit_warns_and_changes_nothing(over_the_weekly_limit: Claim, as_role: Any) -> None:
    claim = over_the_weekly_limit
    version = claim.version
    member = as_role("member")
    response = member.post(f"/claims/{claim.id}/submit", data={})
    page = text_of(response)
    assert response.status_code == 200
    assert "This claim would take you over your earnings limit" in page
    week_start, week_end = benefits.week_of(TODAY)
    assert f"Your weekly limit: {week_start:%-d %B %Y} to {week_end:%-d %B %Y}" in " ".join(page.split())
    for amount in ("£196.00 a week", "£150.00", "£60.00", "£210.00, which is £14.00 over your limit"):
        assert amount in page
    assert 'name="reduced_fee" type="text" value="46.00"' in page  # the room left under the limit
    assert page.count('type="radio" id="choice') == 3
    db.session.refresh(claim)
    assert (claim.state, claim.version, claim.fee_pence) == (ClaimState.DRAFT, version, 6000)
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.object_type == "Claim", AuditEntry.object_id == str(claim.id))
        )
        == 0
    )
    no_choice = member.post(f"/claims/{claim.id}/submit", data={"warned": "yes"})
    assert no_choice.status_code == 422
    assert "Choose what you would like to do" in error_for(text_of(no_choice), "choice")
    for bad, message in (("abc", "Enter an amount in pounds and pence"), ("70.00", "from £0 to £60.00")):
        refused = member.post(
            f"/claims/{claim.id}/submit", data={"warned": "yes", "choice": "reduce", "reduced_fee": bad}
        )
        assert refused.status_code == 422 and message in error_for(text_of(refused), "reduced_fee")
    db.session.refresh(claim)
    assert claim.state == ClaimState.DRAFT


@pytest.mark.parametrize(
    ("choice", "fee", "declined"), [("as_is", 6000, False), ("reduce", 4600, False), ("decline", 6000, True)]
)
def test_each_choice_after_the_warning_sends_the_claim(
    over_the_weekly_limit: Claim, as_role: Any, choice: str, fee: int, declined: bool
) -> None:
    claim = over_the_weekly_limit
    response = as_role("member").post(
        f"/claims/{claim.id}/submit", data={"warned": "yes", "choice": choice, "reduced_fee": "46.00"}
    )
    assert response.status_code == 303
    db.session.refresh(claim)
    assert claim.state == ClaimState.SUBMITTED
    assert (claim.fee_pence, claim.full_fee_pence, claim.payment_declined) == (fee, 6000, declined)
    if choice == "reduce":
        assert claim.fee_pence < claim.full_fee_pence
    page = text_of(as_role("member").get(f"/claims/{claim.id}"))
    assert {"as_is": "£60.00", "reduce": "reduced from the full fee of £60.00", "decline": "Declined."}[choice] in page


def test_a_claim_changed_by_someone_else_is_not_sent_twice(
    card: Any, as_role: Any, users: dict[str, Any], monkeypatch: Any
) -> None:
    claim = make_claim(users["member"], card["Meeting"])

    def changed_meanwhile(*args: Any, **kwargs: Any) -> list[Any]:
        raise StaleDataError("version mismatch")

    monkeypatch.setattr(claims, "submit_claim", changed_meanwhile)
    member = as_role("member")
    response = member.post(f"/claims/{claim.id}/submit", data={})
    assert response.status_code == 303
    assert "Someone else changed this claim" in text_of(member.get(f"/claims/{claim.id}"))
    db.session.refresh(claim)
    assert claim.state == ClaimState.DRAFT


# --- payments page -------------------------------------------------------------------------------


def test_payments_page_totals_across_the_april_boundary(card: Any, as_role: Any, users: dict[str, Any]) -> None:
    member = users["member"]
    this_year, next_year = benefits.tax_year_of(TODAY)
    last_year_end = this_year - timedelta(days=1)  # 5 April
    with_expense = make_claim(member, card["Meeting"], on=last_year_end, units="2")
    add_line(with_expense, member, 9999)
    claims.submit_claim(with_expense, by=member, now=NOW)
    make_claim(member, card["Meeting"], on=this_year, units="3", submit=True)  # 6 April: £60
    make_claim(member, card["Meeting"], on=this_year + timedelta(days=1), submit=True)  # 7 April: £20
    make_claim(member, card["Meeting"], on=this_year, units="5")  # a draft: not counted
    declined = make_claim(member, card["Meeting"], on=this_year, units="4")
    claims.submit_claim(declined, by=member, now=NOW, choice="decline")
    db.session.commit()
    set_preference(member, method=PaymentMethod.VOUCHER, weekly_limit_pence=5000)

    page = " ".join(text_of(as_role("member").get("/payments")).split())
    last = f"{last_year_end.replace(day=6, year=last_year_end.year - 1):%-d %B %Y} to {last_year_end:%-d %B %Y}"
    current = f"{this_year:%-d %B %Y} to {next_year:%-d %B %Y}"
    assert f'<th scope="row">{last}</th><td>£40.00</td>' in page
    assert f'<th scope="row">{current}</th><td>£80.00</td>' in page
    week_start, week_end = benefits.week_of(this_year)
    week_fees = 8000 if week_end >= this_year + timedelta(days=1) else 6000
    week = f"{week_start:%-d %B %Y} to {week_end:%-d %B %Y}"
    assert f'<th scope="row">{week}</th> <td>£{week_fees // 100}.00</td>' in page
    assert "Over your limit</strong> by" in page
    assert "Declined" in page and "£99.99" in page and "Draft" in page and "Question for you" not in page
    assert "Shopping voucher" in page and "Weekly earnings limit</dt> <dd>£50.00" in page
    for link in ("/claims/new", "/payments/preferences", "/payments/statement"):
        assert f'href="{link}"' in page


def test_the_april_month_on_the_payments_page_is_the_whole_calendar_month(
    card: Any, as_role: Any, users: dict[str, Any]
) -> None:
    member = users["member"]
    this_year = benefits.tax_year_of(TODAY)[0]
    make_claim(member, card["Meeting"], on=this_year - timedelta(days=1), units="2", submit=True)  # 5 April: £40
    make_claim(member, card["Meeting"], on=this_year, units="3", submit=True)  # 6 April: £60
    set_preference(member, monthly_limit_pence=10000)
    page = " ".join(text_of(as_role("member").get("/payments")).split())
    # The warning before sending a claim counts both (£100 of £100); so must the page.
    assert f'<th scope="row">{this_year:%B %Y}</th> <td>£100.00</td>' in page


def test_payments_page_for_someone_with_no_claims(card: Any, as_role: Any) -> None:
    page = text_of(as_role("member").get("/payments"))
    assert "You have not made any claims yet" in page and "Not chosen yet" in page


def test_payments_page_queries_do_not_grow_with_claims(
    app: Flask, card: Any, as_role: Any, users: dict[str, Any]
) -> None:
    app.config["PAGE_SIZE"] = 100
    member = users["member"]
    project = factories.project(lead=factories.user(), members=(member,))
    set_preference(member, weekly_limit_pence=100000)

    def make(count: int) -> None:
        for number in range(count):
            claim = make_claim(
                member, card["Meeting"], on=TODAY - timedelta(days=number % 40), project=project if number % 2 else None
            )
            if number % 4 == 0:
                add_line(claim, member, 150)
            if number % 3 == 0:
                claims.submit_claim(claim, by=member, now=NOW, choice="as_is")
                db.session.commit()

    client = as_role("member")
    make(5)
    with_few = queries_for(client, "/payments")
    make(45)
    page = text_of(client.get("/payments"))
    assert "50 claims" in page and "Page 1 of" not in page
    assert queries_for(client, "/payments") == with_few


# --- preferences ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"weekly_limit": "12.345"}, "weekly_limit", "Enter the weekly limit in pounds and pence, like 196.00."),
        ({"weekly_limit": "abc"}, "weekly_limit", "Enter the weekly limit in pounds and pence"),
        ({"monthly_limit": "-5"}, "monthly_limit", "Enter the monthly limit in pounds and pence"),
        ({"monthly_limit": "0"}, "monthly_limit", "Enter a limit more than £0"),
        ({"weekly_limit": "99999999999"}, "weekly_limit", "no more than £100,000"),
        ({"method": "charity", "charity_name": " "}, "charity_name", "Enter the name of the charity"),
        ({"method": ""}, "method", "Choose how you would like to be paid."),
        ({"method": "bitcoin"}, "method", "Choose how you would like to be paid."),
    ],
)
def test_bad_preferences_are_refused_and_nothing_is_saved(
    as_role: Any, users: dict[str, Any], data: dict[str, str], field: str, message: str
) -> None:
    response = as_role("member").post("/payments/preferences", data={"method": "voucher", **data})
    assert response.status_code == 422
    assert message in error_for(text_of(response), field)
    assert db.session.get(PaymentPreference, users["member"].id) is None


def test_preferences_are_saved_in_pence_and_audited(as_role: Any, users: dict[str, Any]) -> None:
    member = as_role("member")
    page = text_of(member.get("/payments/preferences"))
    assert "Carer's Allowance" in page and "£196 a week from April 2025" in page
    assert "Only fees for your time count, not expenses" in page
    assert "sort code" not in page.lower() and "account number" not in page.lower()
    response = member.post(
        "/payments/preferences",
        data={"method": "charity", "charity_name": "Shelter", "weekly_limit": "196.00", "monthly_limit": "£1,234.5"},
    )
    assert response.status_code == 303
    preference = db.session.get(PaymentPreference, users["member"].id)
    assert (preference.method, preference.charity_name) == (PaymentMethod.CHARITY, "Shelter")
    assert (preference.weekly_limit_pence, preference.monthly_limit_pence) == (19600, 123450)
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "payment_preferences.changed")).one()
    assert entry.actor_id == users["member"].id and entry.before is None
    assert entry.after == {
        "method": "charity",
        "charity_name": "Shelter",
        "weekly_limit_pence": 19600,
        "monthly_limit_pence": 123450,
    }
    form = text_of(member.get("/payments/preferences"))
    assert 'value="196.00"' in form and 'value="1234.50"' in form and 'value="charity" checked' in form
    member.post(
        "/payments/preferences",
        data={"method": "charity", "charity_name": "Shelter", "weekly_limit": "196", "monthly_limit": "1234.50"},
    )
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "payment_preferences.changed")
        )
        == 1
    )  # nothing changed, nothing recorded
    member.post("/payments/preferences", data={"method": "decline", "charity_name": "Shelter"})
    db.session.refresh(preference)
    assert (preference.method, preference.charity_name, preference.weekly_limit_pence) == (
        PaymentMethod.DECLINE,
        "",
        None,
    )


# --- statement -------------------------------------------------------------------------------------


@pytest.fixture
def statement_claims(card: Any, users: dict[str, Any]) -> dict[str, Claim]:
    member, staff, finance = users["member"], users["staff"], users["finance"]
    start = benefits.tax_year_of(TODAY)[0]
    paid = make_claim(member, card["Panel review"], on=start + timedelta(days=10))
    add_line(paid, member, 1250)
    claims.submit_claim(paid, by=member, now=NOW)
    claims.approve_claim(paid, by=staff, now=NOW)
    batch = batches.create_batch(reference="PAY-1", claim_ids=[paid.id], by=finance)
    batches.mark_batch_paid(batch, paid_on=TODAY, payment_reference="BACS-1", by=finance, today=TODAY)
    db.session.commit()
    declined = make_claim(member, card["Meeting"], on=start + timedelta(days=20), units="2")
    claims.submit_claim(declined, by=member, now=NOW, choice="decline")
    rejected = make_claim(member, card["Meeting"], on=start + timedelta(days=21), submit=True)
    claims.reject_claim(rejected, by=staff, reason="Duplicate")
    db.session.commit()
    draft = make_claim(member, card["Meeting"], on=start + timedelta(days=22))
    earlier = make_claim(member, card["Meeting"], on=start - timedelta(days=1), submit=True)
    someone_else = make_claim(factories.user(), card["Meeting"], on=start + timedelta(days=10), submit=True)
    return {
        "paid": paid,
        "declined": declined,
        "rejected": rejected,
        "draft": draft,
        "earlier": earlier,
        "someone_else": someone_else,
    }


def test_statement_page_defaults_to_this_tax_year(statement_claims: dict[str, Claim], as_role: Any) -> None:
    start, end = benefits.tax_year_of(TODAY)
    page = " ".join(text_of(as_role("member").get("/payments/statement")).split())
    assert f'name="start" type="date" value="{start.isoformat()}"' in page
    assert f"from {start:%-d %B %Y} to {end:%-d %B %Y}" in page
    assert page.count("<tr>") == 4  # header + paid, declined, rejected (no draft, no earlier claim)
    assert "Fees</dt><dd>£150.00" in page.replace(" <", "<").replace("> ", ">")
    assert "Expenses</dt><dd>£12.50" in page.replace(" <", "<").replace("> ", ">")
    assert "Paid to you</dt><dd>£162.50" in page.replace(" <", "<").replace("> ", ">")
    assert "Declined" in page and "Rejected" in page and "Paid" in page


def test_statement_csv(statement_claims: dict[str, Claim], as_role: Any) -> None:
    start, end = benefits.tax_year_of(TODAY)
    # buffered: the streamed body is read while the request's context is still there
    response = as_role("member").get(f"/payments/statement?start={start}&end={end}&format=csv", buffered=True)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="statement-{start.isoformat()}-to-{end.isoformat()}.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == [
        "claim_id",
        "activity_date",
        "activity_type",
        "units",
        "unit",
        "rate",
        "fee",
        "payment_declined",
        "expenses",
        "total",
        "state",
        "project_or_programme",
        "paid_on",
    ]
    paid, declined, rejected = statement_claims["paid"], statement_claims["declined"], statement_claims["rejected"]
    assert rows[1:] == [
        [
            str(paid.id),
            paid.activity_date.isoformat(),
            "Panel review",
            "1.00",
            "day",
            "150.00",
            "150.00",
            "no",
            "12.50",
            "162.50",
            "Paid",
            "The programme",
            TODAY.isoformat(),
        ],
        [
            str(declined.id),
            declined.activity_date.isoformat(),
            "Meeting",
            "2.00",
            "hour",
            "20.00",
            "0.00",
            "yes",
            "0.00",
            "0.00",
            "Submitted",
            "The programme",
            "",
        ],
        [
            str(rejected.id),
            rejected.activity_date.isoformat(),
            "Meeting",
            "1.00",
            "hour",
            "20.00",
            "20.00",
            "no",
            "0.00",
            "20.00",
            "Rejected",
            "The programme",
            "",
        ],
    ]
    narrow = as_role("member").get(
        f"/payments/statement?start={paid.activity_date}&end={paid.activity_date}&format=csv", buffered=True
    )
    assert len(list(csv.reader(io.StringIO(narrow.get_data(as_text=True))))) == 2


def test_statement_free_text_cannot_start_a_formula(card: Any, as_role: Any, users: dict[str, Any]) -> None:
    project = factories.project(title='=HYPERLINK("http://evil.test")', lead=users["member"])
    make_claim(users["member"], card["Meeting"], project=project, submit=True)
    rows = list(
        csv.reader(
            io.StringIO(as_role("member").get("/payments/statement?format=csv", buffered=True).get_data(as_text=True))
        )
    )
    assert rows[1][11] == '\'=HYPERLINK("http://evil.test")'


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("start=2026-05-01&end=2026-04-01", "end", "The end date must be the same as the start date or after it."),
        ("start=not-a-date", "start", "Enter a real start date"),
    ],
)
def test_statement_bad_dates(as_role: Any, query: str, field: str, message: str) -> None:
    for suffix in ("", "&format=csv"):
        response = as_role("member").get(f"/payments/statement?{query}{suffix}")
        assert response.status_code == 422 and response.mimetype == "text/html"
        assert message in error_for(text_of(response), field)


def test_htmx_gets_just_the_claims_list(card: Any, as_role: Any, users: dict[str, Any]) -> None:
    make_claim(users["member"], card["Meeting"])
    response = as_role("member").get("/payments?page=1", headers={"HX-Request": "true"})
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert fragment.lstrip().startswith('<section id="claims"') and "<html" not in fragment


def test_claim_page_forms_carry_the_csrf_token(app_factory: Any) -> None:
    app = app_factory(WTF_CSRF_ENABLED=True)
    with app.app_context():
        admin, member = factories.user(role="admin"), factories.user(email="csrf@example.test")
        activity = rates.add_activity_type(name="Meeting", unit=Unit.HOUR, by=admin)
        rates.set_rate(activity, amount_pence=2000, effective_from=date(2020, 1, 1), by=admin)
        db.session.commit()
        claim = make_claim(member, activity)
        client = app.test_client()
        token_in = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
        token = token_in.search(client.get("/account/sign-in").get_data(as_text=True)).group(1)
        sign_in(client, member.email, csrf_token=token)
        page = client.get(f"/claims/{claim.id}").get_data(as_text=True)
        assert len(token_in.findall(page)) == 2  # adding an expense, and sending the claim
        assert 'id="csrf_token"' not in page  # several forms on one page: no repeated ids
        assert client.post(f"/claims/{claim.id}/submit", data={}).status_code == 400
        # Signing in renewed the token: the one from before is refused, the page's works.
        assert client.post(f"/claims/{claim.id}/submit", data={"csrf_token": token}).status_code == 400
        token = token_in.search(page).group(1)
        assert client.post(f"/claims/{claim.id}/submit", data={"csrf_token": token}).status_code == 303
        assert token_in.search(client.get("/payments/preferences").get_data(as_text=True))
        assert token_in.search(client.get("/claims/new").get_data(as_text=True))
        db.session.remove()


def test_claimant_pages_need_signing_in(as_role: Any) -> None:
    visitor = as_role("anonymous")
    for url in ("/payments", "/payments/preferences", "/payments/statement", "/claims/new", "/claims/1"):
        response = visitor.get(url)
        assert response.status_code in (302, 303) and "/account/sign-in" in response.headers["Location"], url
