"""Paying a contributor, in a real browser: a member claims for a project meeting with a mileage
expense and a receipt, chooses what to do about their earnings limit and sends the claim; their
project lead confirms it; staff approve it; finance batch it, download the CSV and mark it paid;
the member sees it paid and opens their printable statement. Also the claimant's whole task
without JavaScript. Every page visited is checked with axe-core."""

from __future__ import annotations

import csv
import io
import re
import struct
import zlib
from datetime import date, timedelta
from typing import Any

from playwright.sync_api import expect

from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.remuneration import rates
from portal.remuneration.batches import CSV_COLUMNS
from portal.remuneration.models import Claim, ClaimState, Unit
from tests import factories
from tests.e2e.conftest import LiveServer, check_axe
from tests.e2e.helpers import assert_focused, press_and_wait, sign_in, tab_to

BATCH_HEADER = (
    "claim_id,payee_name,payee_reference,payment_method,activity_date,activity_type,units,unit,rate,fee,"
    "expenses,total,project_or_cost_code,submitted_at,approved_by,approved_at,batch_reference"
)


def tiny_png() -> bytes:
    """A valid 1×1 white PNG, made here so the test needs no file on disk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1×1, 8-bit RGB
    pixels = zlib.compress(b"\x00\xff\xff\xff")  # one row: filter byte, then one white pixel
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def make_people_and_rate_card(live_server: LiveServer, *, with_rate_card: bool = True) -> dict[str, Any]:
    """A project led by Lee with Mo on the team, staff, finance and an admin; with the rate card,
    a meeting at £20 an hour."""
    with live_server.app.app_context():
        admin = factories.user(role="admin", name="Ada Admin", email="ada@example.test")
        if with_rate_card:
            meeting = rates.add_activity_type(name="Meeting", unit=Unit.HOUR, by=admin)
            rates.set_rate(meeting, amount_pence=2000, effective_from=date(2020, 1, 1), by=admin)
            db.session.commit()
        member = factories.user(name="Mo Member", email="mo@example.test")
        lead = factories.user(name="Lee Lead", email="lee@example.test")
        factories.user(role="staff", name="Sam Staff", email="sam@example.test")
        factories.user(role="finance", name="Fin Ance", email="fin@example.test")
        project = factories.project(title="Peer support pilot", lead=lead, members=(member,))
        return {"member_id": member.id, "project_id": project.id}


def only_claim_id(live_server: LiveServer) -> int:
    with live_server.app.app_context():
        ids = list(db.session.scalars(db.select(Claim.id)))
    assert len(ids) == 1, ids
    return ids[0]


def claim_state(live_server: LiveServer, claim_id: int) -> ClaimState:
    with live_server.app.app_context():
        claim = db.session.get(Claim, claim_id)
        assert claim is not None
        return claim.state


def test_member_claims_lead_confirms_staff_approve_finance_pay_member_sees_it_paid(
    new_page: Any, live_server: LiveServer, tmp_path: Any
) -> None:
    made = make_people_and_rate_card(live_server, with_rate_card=False)
    today = london_today()

    # --- an admin puts a meeting on the rate card: £20 an hour ------------------------------------
    admin = new_page()
    sign_in(admin, "ada@example.test", "/admin/rates", check_landing=False)
    expect(admin.get_by_text("There are no activities on the rate card yet.")).to_be_visible()
    check_axe(admin)
    admin.get_by_label("Name of the activity").fill("Meeting")
    admin.get_by_label("Paid by the").select_option(label="Hour")
    admin.get_by_role("button", name="Add the activity").click()
    expect(admin.get_by_role("status")).to_contain_text("Meeting is on the rate card.")
    meeting = admin.get_by_role("region", name="Meeting")
    expect(meeting).to_contain_text("No rate yet")
    check_axe(admin)
    meeting.get_by_label("New amount in pounds").fill("twenty")
    meeting.get_by_label("In force from").fill("2020-01-01")
    meeting.get_by_role("button", name=re.compile("Save the new rate")).click()
    expect(admin.locator("[data-error-summary]")).to_contain_text("Enter the amount in pounds and pence, like 27.50.")
    meeting = admin.get_by_role("region", name="Meeting")
    expect(meeting.locator(".field-error")).to_contain_text("Enter the amount in pounds and pence, like 27.50.")
    expect(meeting.get_by_label("In force from")).to_have_value("2020-01-01")
    check_axe(admin)
    meeting.get_by_label("New amount in pounds").fill("20")
    meeting.get_by_role("button", name=re.compile("Save the new rate")).click()
    expect(admin.get_by_role("status")).to_contain_text("Meeting: £20.00 from 1 January 2020.")
    expect(admin.get_by_role("region", name="Meeting")).to_contain_text("£20.00 an hour")
    check_axe(admin)

    # --- the member: a weekly earnings limit first ------------------------------------------------
    member = new_page()
    sign_in(member, "mo@example.test", "/payments", check_landing=False)
    expect(member.get_by_role("heading", level=1)).to_have_text("Your payments")
    expect(member.get_by_text("You have not made any claims yet.")).to_be_visible()
    check_axe(member)

    member.get_by_role("link", name="Change how you are paid and your earnings limits").first.click()
    expect(member).to_have_url(re.compile(r"/payments/preferences$"))
    check_axe(member)
    member.get_by_label("Bank transfer (set up with the finance team)").check()
    member.get_by_label("Weekly earnings limit (optional)").fill("30.00")
    member.get_by_role("button", name="Save preferences").click()
    expect(member).to_have_url(re.compile(r"/payments$"))
    expect(member.get_by_role("status")).to_contain_text("Your payment preferences have been saved.")
    week_row = member.get_by_role("row", name=re.compile(r"^This week"))
    expect(week_row).to_contain_text("£30.00 left under your limit")
    check_axe(member)

    # --- the claim form: a mistake first, then right -------------------------------------------------
    member.get_by_role("link", name="Claim for your time").first.click()
    expect(member).to_have_url(re.compile(r"/claims/new$"))
    check_axe(member)
    member.get_by_label("What did you do?").select_option(label="Meeting (£20.00 an hour)")
    expect(member.get_by_label("Date of the activity")).to_have_value(today.isoformat())
    member.get_by_label("How much time?").fill("two hours")
    member.get_by_label("What was it for?").select_option(label="Peer support pilot")
    member.get_by_label("Notes (optional)").fill("Monthly team meeting")
    member.get_by_role("button", name="Save as a draft").click()

    summary = member.locator("[data-error-summary]")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("Enter a number, like 1 or 1.5, with no more than two decimal places.")
    expect(summary).to_be_focused()
    units = member.get_by_label("How much time?")
    expect(units).to_have_attribute("aria-invalid", "true")
    expect(member.locator("#units-error")).to_contain_text("Enter a number, like 1 or 1.5")
    assert "units-error" in (units.get_attribute("aria-describedby") or "")
    # What was typed stays, so only the mistake needs putting right.
    expect(member.get_by_label("What was it for?")).to_have_value(str(made["project_id"]))
    expect(member.get_by_label("Notes (optional)")).to_have_value("Monthly team meeting")
    check_axe(member)
    with live_server.app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Claim)) == 0

    # The summary's link takes focus to the field.
    summary.get_by_role("link").click()
    assert_focused(member, "#units")
    units.fill("2")
    member.get_by_role("button", name="Save as a draft").click()
    expect(member).to_have_url(re.compile(r"/claims/\d+$"))
    expect(member.get_by_role("status")).to_contain_text("Your claim is saved as a draft.")
    expect(member.get_by_text("2 hours × £20.00 per hour = £40.00")).to_be_visible()
    check_axe(member)
    claim_id = only_claim_id(live_server)

    # --- a mileage expense with a PNG receipt ----------------------------------------------------------
    member.get_by_label("Type of expense").select_option(label="Mileage")
    member.get_by_label("What was it for? (optional)").fill("Drive to the meeting and back")
    member.get_by_label("Miles (mileage only)").fill("10")
    member.get_by_label("Receipt (optional)").set_input_files(
        {"name": "parking.png", "mimeType": "image/png", "buffer": tiny_png()}
    )
    member.get_by_role("button", name="Add expense").click()
    expect(member.get_by_role("status")).to_contain_text("The expense has been added to your claim.")
    expenses = member.get_by_role("table", name="Expenses on this claim")
    expect(expenses).to_contain_text("Drive to the meeting and back")
    expect(expenses).to_contain_text("10 miles at 45p a mile")
    expect(expenses).to_contain_text("£4.50")
    check_axe(member)
    with member.expect_download() as receipt:
        member.get_by_role("link", name="Download parking.png").click()
    assert receipt.value.suggested_filename == "parking.png"
    saved = tmp_path / "receipt.png"
    receipt.value.save_as(saved)
    assert saved.read_bytes() == tiny_png()

    # --- send it from the keyboard: over the weekly limit, so they are asked first ---------------------
    tab_to(member, "form[action$='/submit'] button")
    press_and_wait(member, "Enter")
    expect(member.get_by_role("heading", level=1)).to_have_text("This claim would take you over your earnings limit")
    expect(member.get_by_text("£40.00, which is £10.00 over your limit")).to_be_visible()
    assert claim_state(live_server, claim_id) == ClaimState.DRAFT  # nothing changes until they choose
    check_axe(member)

    # Sending without a choice is refused with a message, and still sends nothing.
    member.get_by_role("button", name="Send claim").click()
    expect(member.locator("[data-error-summary]")).to_contain_text("Choose what you would like to do with this claim.")
    expect(member.locator("[data-error-summary]")).to_be_focused()
    assert claim_state(live_server, claim_id) == ClaimState.DRAFT
    check_axe(member)

    member.get_by_label("Reduce the fee", exact=True).check()
    expect(member.get_by_label("Reduce the fee to")).to_have_value("30.00")
    member.get_by_role("button", name="Send claim").click()
    expect(member).to_have_url(re.compile(rf"/claims/{claim_id}$"))
    expect(member.get_by_role("status")).to_contain_text("Thank you. Your claim has been sent for checking.")
    expect(member.get_by_text("£30.00, reduced from the full fee of £40.00")).to_be_visible()
    check_axe(member)
    assert claim_state(live_server, claim_id) == ClaimState.SUBMITTED

    # --- the project lead confirms it, from the keyboard ----------------------------------------------
    lead = new_page()
    sign_in(lead, "lee@example.test", "/claims/confirmations", check_landing=False)
    rows = lead.locator("#results tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Mo Member")
    expect(rows.first).to_contain_text("Peer support pilot")
    expect(rows.first).to_contain_text("£4.50")
    check_axe(lead)
    tab_to(lead, f"form[action$='/claims/{claim_id}/confirm'] button")
    press_and_wait(lead, "Enter")
    expect(lead).to_have_url(re.compile(rf"/claims/{claim_id}$"))
    expect(lead.get_by_role("status")).to_contain_text("You have confirmed the activity.")
    # The lead sees that a receipt is there, but only the claimant, staff and finance may open it.
    lead_expenses = lead.get_by_role("table", name="Expenses on this claim")
    expect(lead_expenses).to_contain_text("Receipt attached")
    expect(lead_expenses.get_by_role("link")).to_have_count(0)
    check_axe(lead)
    assert claim_state(live_server, claim_id) == ClaimState.CONFIRMED

    # --- staff approve it from the queue --------------------------------------------------------------
    staff = new_page()
    sign_in(staff, "sam@example.test", "/claims/queue", check_landing=False)
    queue_row = staff.locator("#results tbody tr").filter(has_text="Mo Member")
    expect(queue_row).to_contain_text("£34.50")  # the reduced fee and the mileage
    expect(queue_row).to_contain_text("Confirmed by project lead")
    check_axe(staff)
    staff.get_by_role("link", name="See how long payments are taking").click()
    expect(staff).to_have_url(re.compile(r"/staff/payments$"))
    check_axe(staff)
    staff.go_back()
    expect(staff).to_have_url(re.compile(r"/claims/queue$"))
    check_axe(staff)
    queue_row.get_by_role("link", name=re.compile("Meeting")).click()
    expect(staff).to_have_url(re.compile(rf"/claims/{claim_id}$"))
    expect(staff.get_by_text(f"Claim {claim_id} by Mo Member.")).to_be_visible()
    check_axe(staff)
    with staff.expect_download() as staff_receipt:
        staff.get_by_role("link", name="Download parking.png").click()
    assert staff_receipt.value.suggested_filename == "parking.png"
    staff.get_by_role("button", name="Approve the claim").click()
    expect(staff.get_by_role("status")).to_contain_text("The claim is approved.")
    check_axe(staff)
    assert claim_state(live_server, claim_id) == ClaimState.APPROVED

    # The queue no longer waits on it; the filter (htmx, in place) finds it among the approved.
    staff.goto("/claims/queue")
    expect(staff.locator("#results [role=status]")).to_contain_text("0 claims")
    check_axe(staff)
    staff.wait_for_function("() => window.htmx !== undefined")
    staff.evaluate("() => { window.__samePage = true; }")
    staff.get_by_label("Show claims").select_option(label="Approved, not yet in a payment batch")
    expect(staff).to_have_url(re.compile(r"/claims/queue\?.*state=approved"))
    expect(staff.locator("#results tbody tr")).to_have_count(1)
    expect(staff.locator("#results [role=status]")).to_contain_text("1 claim: £30.00 in fees and £4.50 in expenses")
    assert staff.evaluate("() => window.__samePage === true"), "the filter reloaded the whole page"
    check_axe(staff)

    # --- finance: payee reference, a batch, its CSV, and paid ------------------------------------------
    finance = new_page()
    sign_in(finance, "fin@example.test", "/finance", check_landing=False)
    check_axe(finance)
    finance.get_by_role("link", name="Mo Member").click()
    expect(finance.get_by_role("heading", level=1)).to_have_text("Payee: Mo Member")
    expect(finance.get_by_text("£30.00")).to_be_visible()  # their weekly limit
    check_axe(finance)
    finance.get_by_label("Payee reference", exact=True).fill("SUP-0042")
    finance.get_by_role("button", name="Save the payee reference").click()
    expect(finance.get_by_role("status")).to_contain_text("Mo Member's payee reference is saved.")
    check_axe(finance)
    finance.get_by_role("link", name="Back to finance: payments").click()
    expect(finance).to_have_url(re.compile(r"/finance$"))
    check_axe(finance)

    # No claim ticked: refused, with the message next to the choices.
    finance.get_by_label("Batch reference").fill("PAY-2026-11")
    finance.get_by_role("button", name="Create the batch").click()
    expect(finance.locator("[data-error-summary]")).to_contain_text("Choose at least one approved claim.")
    expect(finance.locator("#claim_ids-error")).to_contain_text("Choose at least one approved claim.")
    check_axe(finance)
    finance.get_by_label(f"Pay claim {claim_id}").check()
    expect(finance.get_by_label("Batch reference")).to_have_value("PAY-2026-11")
    finance.get_by_role("button", name="Create the batch").click()
    expect(finance.get_by_role("heading", level=1)).to_have_text("Payment batch PAY-2026-11")
    expect(finance.get_by_role("status")).to_contain_text("Batch PAY-2026-11 is ready.")
    check_axe(finance)
    assert claim_state(live_server, claim_id) == ClaimState.IN_BATCH

    with finance.expect_download() as download:
        finance.get_by_role("link", name=re.compile("Download the batch")).click()
    assert download.value.suggested_filename == "batch-PAY-2026-11.csv"
    path = tmp_path / "batch.csv"
    download.value.save_as(path)
    text = path.read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == BATCH_HEADER
    assert BATCH_HEADER.split(",") == CSV_COLUMNS
    rows_in_csv = list(csv.DictReader(io.StringIO(text)))
    assert len(rows_in_csv) == 1
    row = rows_in_csv[0]
    submitted_at, approved_at = row.pop("submitted_at"), row.pop("approved_at")
    assert row == {
        "claim_id": str(claim_id),
        "payee_name": "Mo Member",
        "payee_reference": "SUP-0042",
        "payment_method": "bank_transfer",
        "activity_date": today.isoformat(),
        "activity_type": "Meeting",
        "units": "2.00",
        "unit": "hour",
        "rate": "20.00",
        "fee": "30.00",
        "expenses": "4.50",
        "total": "34.50",
        "project_or_cost_code": "Peer support pilot",
        "approved_by": "Sam Staff",
        "batch_reference": "PAY-2026-11",
    }
    iso_moment = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?"
    assert re.fullmatch(iso_moment, submitted_at), submitted_at
    assert re.fullmatch(iso_moment, approved_at), approved_at
    assert submitted_at <= approved_at

    finance.get_by_label("Date paid").fill(today.isoformat())
    finance.get_by_label("Payment reference", exact=True).fill("BACS-77")
    tab_to(finance, "Mark the batch paid")
    press_and_wait(finance, "Enter")
    expect(finance.get_by_role("heading", level=1)).to_have_text("Mark batch PAY-2026-11 paid?")
    expect(finance.locator("main")).to_contain_text("This will mark 1 claim paid")
    check_axe(finance)
    assert claim_state(live_server, claim_id) == ClaimState.IN_BATCH  # asked, not yet done
    tab_to(finance, "Yes, mark the batch paid")
    press_and_wait(finance, "Enter")
    expect(finance.get_by_role("status")).to_contain_text("Batch PAY-2026-11 is marked paid.")
    expect(finance.get_by_text("payment reference BACS-77")).to_be_visible()
    check_axe(finance)
    assert claim_state(live_server, claim_id) == ClaimState.PAID
    finance.get_by_role("link", name="Back to finance: payments").click()
    expect(finance.get_by_text("No batches are waiting to be paid.")).to_be_visible()
    expect(finance.get_by_text("There are no approved claims waiting to be put in a batch.")).to_be_visible()
    check_axe(finance)
    finance.get_by_role("link", name="All payment batches").click()
    expect(finance.locator("tbody tr").filter(has_text="PAY-2026-11")).to_contain_text(
        f"Paid on {today.day} {today:%B %Y}"
    )
    check_axe(finance)
    # Every claim as a spreadsheet, from the dashboard's link; a wrong date range is told, not downloaded.
    finance.goto("/finance")
    check_axe(finance)
    finance.get_by_role("link", name="Download claims").click()
    expect(finance.get_by_role("heading", level=1)).to_have_text("Download claims")
    check_axe(finance)
    finance.get_by_label("From", exact=True).fill(today.isoformat())
    finance.get_by_label("To", exact=True).fill((today - timedelta(days=1)).isoformat())
    finance.get_by_role("button", name="Download claims (CSV file)").click()
    expect(finance.locator("[data-error-summary]")).to_contain_text("The end date must be the same as the start date")
    check_axe(finance)
    finance.get_by_label("To", exact=True).fill(today.isoformat())
    finance.get_by_label("State").select_option("paid")
    with finance.expect_download() as all_claims:
        finance.get_by_role("button", name="Download claims (CSV file)").click()
    claims_path = tmp_path / "claims.csv"
    all_claims.value.save_as(claims_path)
    exported = list(csv.DictReader(io.StringIO(claims_path.read_text(encoding="utf-8-sig"))))
    assert [(r["claim_id"], r["state"], r["batch_reference"]) for r in exported] == [
        (str(claim_id), "Paid", "PAY-2026-11")
    ]

    # --- the member sees it paid, and their statement ----------------------------------------------------
    member.get_by_role("navigation", name="Your account").get_by_role("link", name="Your payments").click()
    expect(member).to_have_url(re.compile(r"/payments$"))
    claim_row = member.get_by_role("table", name=re.compile("Your claims")).locator("tbody tr")
    expect(claim_row).to_have_count(1)
    expect(claim_row).to_contain_text("Paid")
    expect(claim_row).to_contain_text("£30.00")
    expect(claim_row).to_contain_text("£4.50")
    expect(member.get_by_role("row", name=re.compile(r"^This week"))).to_contain_text("£0.00 left under your limit")
    check_axe(member)

    member.get_by_role("link", name="Get a statement of your claims to print or download").click()
    expect(member).to_have_url(re.compile(r"/payments/statement$"))
    statement = member.get_by_role("table", name=re.compile("Your claims from"))
    expect(statement.locator("tbody tr")).to_have_count(1)
    expect(statement).to_contain_text("Meeting")
    expect(statement).to_contain_text("Paid")
    paid_to_you = member.locator(".summary-list div").filter(has_text="Paid to you")
    expect(paid_to_you).to_contain_text("£34.50")
    check_axe(member)
    # Printed, the statement keeps its claims and totals and drops the navigation and the date form.
    member.emulate_media(media="print")
    expect(statement).to_be_visible()
    expect(paid_to_you).to_be_visible()
    expect(member.get_by_role("button", name="Show statement")).to_be_hidden()
    expect(member.get_by_role("navigation", name="Your account")).to_be_hidden()
    member.emulate_media(media="screen")

    # Dates the wrong way round: a message next to the field, and no statement.
    member.get_by_label("From").fill(today.isoformat())
    member.get_by_label("To").fill(date.fromordinal(today.toordinal() - 1).isoformat())
    member.get_by_role("button", name="Show statement").click()
    expect(member.locator("[data-error-summary]")).to_be_focused()
    expect(member.locator("#end-error")).to_contain_text("The end date must be the same as the start date or after it.")
    expect(member.get_by_role("table")).to_have_count(0)
    check_axe(member)


def test_the_whole_claimant_task_works_without_javascript(new_page: Any, live_server: LiveServer) -> None:
    made = make_people_and_rate_card(live_server)
    page = new_page(java_script_enabled=False)
    sign_in(page, "mo@example.test", "/payments", check_landing=False)
    check_axe(page)

    page.get_by_role("link", name="Change how you are paid and your earnings limits").first.click()
    check_axe(page)
    page.get_by_label("Shopping voucher").check()
    page.get_by_label("Weekly earnings limit (optional)").fill("thirty pounds")
    page.get_by_role("button", name="Save preferences").click()
    expect(page.locator("#weekly_limit-error")).to_contain_text("Enter the weekly limit in pounds and pence")
    check_axe(page)
    page.get_by_label("Weekly earnings limit (optional)").fill("20")
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_role("status")).to_contain_text("Your payment preferences have been saved.")
    check_axe(page)

    page.get_by_role("link", name="Claim for your time").first.click()
    check_axe(page)
    # Nothing filled in: every message is shown next to its field, with the summary above.
    page.get_by_role("button", name="Save as a draft").click()
    expect(page.locator("[data-error-summary]")).to_contain_text("Choose the kind of activity.")
    expect(page.locator("#activity_type_id-error")).to_contain_text("Choose the kind of activity.")
    expect(page.locator("#units-error")).to_contain_text("Enter how much time you are claiming for.")
    check_axe(page)
    page.get_by_label("What did you do?").select_option(label="Meeting (£20.00 an hour)")
    page.get_by_label("How much time?").fill("1.5")
    page.get_by_label("What was it for?").select_option(value=str(made["project_id"]))
    page.get_by_role("button", name="Save as a draft").click()
    expect(page.get_by_text("1.5 hours × £20.00 per hour = £30.00")).to_be_visible()
    check_axe(page)
    claim_id = only_claim_id(live_server)

    # A mileage line needs its miles: refused with the message next to the field, then added.
    page.get_by_label("Type of expense").select_option(label="Mileage")
    page.get_by_role("button", name="Add expense").click()
    expect(page.locator("[data-error-summary]")).to_be_visible()
    check_axe(page)
    expect(page.locator("#miles-error")).to_contain_text("Enter the number of miles")
    expect(page.get_by_label("Type of expense")).to_have_value("mileage")
    page.get_by_label("Miles (mileage only)").fill("4")
    page.get_by_label("Receipt (optional)").set_input_files(
        {"name": "ticket.png", "mimeType": "image/png", "buffer": tiny_png()}
    )
    page.get_by_role("button", name="Add expense").click()
    expect(page.get_by_role("status")).to_contain_text("The expense has been added to your claim.")
    expect(page.get_by_role("table", name="Expenses on this claim")).to_contain_text("£1.80")
    expect(page.get_by_role("link", name="Download ticket.png")).to_be_visible()
    check_axe(page)

    # £30 is over the £20 weekly limit: they are asked first, and choose to take no fee.
    page.get_by_role("button", name="Send claim").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("This claim would take you over your earnings limit")
    expect(page.get_by_text("£30.00, which is £10.00 over your limit")).to_be_visible()
    expect(page.get_by_label("Reduce the fee to")).to_have_value("20.00")
    check_axe(page)
    assert claim_state(live_server, claim_id) == ClaimState.DRAFT
    page.get_by_label("Do not take a fee for this claim").check()
    page.get_by_role("button", name="Send claim").click()
    expect(page.get_by_role("status")).to_contain_text("Thank you. Your claim has been sent for checking.")
    expect(page.get_by_text("Declined. The time is recorded and counted")).to_be_visible()
    check_axe(page)
    with live_server.app.app_context():
        claim = db.session.get(Claim, claim_id)
        assert claim is not None
        assert (claim.state, claim.payment_declined, claim.payable_fee_pence) == (ClaimState.SUBMITTED, True, 0)

    # A declined fee is not earnings: the week still has all £20 of its limit left. The mileage is still paid.
    page.get_by_role("link", name="Back to your payments").click()
    claim_row = page.get_by_role("table", name=re.compile("Your claims")).locator("tbody tr")
    expect(claim_row).to_contain_text("Submitted")
    expect(claim_row).to_contain_text("£1.80")
    expect(page.get_by_role("row", name=re.compile(r"^This week"))).to_contain_text("£20.00 left under your limit")
    check_axe(page)
