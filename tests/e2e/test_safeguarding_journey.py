"""Safeguarding in a real browser, axe-checked on every page: on a 390 px phone, a member blocks
another from their directory entry and reports a message they were sent; staff find the report
in the queue with the message's words, suspend the account, and later lift the suspension."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from playwright.sync_api import expect

from portal.accounts.models import User
from portal.core.extensions import db
from portal.directory import services
from portal.directory.models import MemberReport
from tests import factories
from tests.e2e.conftest import LiveServer, check_axe
from tests.e2e.helpers import sign_in

PHONE = {"width": 390, "height": 844}


def _list(person: Any, name: str) -> None:
    services.save_entry(
        person,
        listed=True,
        display_name=name,
        show_pronouns=False,
        show_bio=False,
        show_projects=False,
        accepts_messages=True,
        interests=["equality"],
        skills_text="Peer support",
    )


def _fits_the_screen(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.url


def test_block_report_and_staff_review(new_page: Any, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        ada = factories.user(name="Ada Able", email="ada@example.test")
        ben = factories.user(name="Ben Bold", email="ben@example.test")
        factories.user(role="staff", name="Sam Staff", email="sam@example.test")
        _list(ada, "Ada")
        _list(ben, "Ben")
        sent = services.send_message(ben, ada, "Tell me where you live or else.")
        db.session.commit()
        ben_id, message_id = ben.id, sent.id

    # Ada, on her phone, blocks Ben from his directory entry.
    member = new_page()
    member.set_viewport_size(PHONE)
    sign_in(member, "ada@example.test", "/people")
    _fits_the_screen(member)
    member.get_by_role("link", name="Ben", exact=True).click()
    expect(member.get_by_role("heading", level=1)).to_have_text("Ben")
    check_axe(member)
    _fits_the_screen(member)
    member.get_by_role("button", name="Block Ben").click()
    expect(member.get_by_role("heading", level=1)).to_have_text("People you have blocked")
    expect(member.get_by_text("You blocked Ben.")).to_be_visible()
    expect(member.get_by_role("button", name="Unblock Ben")).to_be_visible()
    check_axe(member)
    _fits_the_screen(member)

    # Ben is gone from her directory.
    member.goto("/people")
    expect(member.get_by_text("1 person found")).to_be_visible()
    check_axe(member)

    # She reports the message he sent; a mistake first, explained next to the field.
    member.goto("/people/messages")
    check_axe(member)
    member.get_by_role("button", name=re.compile("Tell me where you live")).click()  # new: opening it marks it read
    expect(member.get_by_text("You cannot reply: one of you has blocked the other.")).to_be_visible()
    check_axe(member)
    member.get_by_role("link", name="Report this message to programme staff").click()
    expect(member.get_by_role("heading", level=1)).to_have_text("Report a message from Ben")
    check_axe(member)
    _fits_the_screen(member)
    member.get_by_role("button", name="Send the report to staff").click()
    expect(member.locator("[data-error-summary]")).to_contain_text("Choose why you are reporting this.")
    check_axe(member)
    member.get_by_label("Harassment, bullying or threats").check()
    member.get_by_label(re.compile("^What happened")).fill("He keeps asking for my address.")
    member.get_by_role("button", name="Send the report to staff").click()
    expect(member.get_by_role("status").first).to_contain_text("Programme staff will look at your report.")
    expect(member).to_have_url(re.compile(f"/people/messages/{message_id}$"))
    check_axe(member)

    # Staff see it in the queue, linked from the moderation page, with the message's words.
    staff = new_page()
    sign_in(staff, "sam@example.test", "/learning/moderation")
    staff.get_by_role("link", name="Reports about members and their messages").click()
    expect(staff.get_by_role("heading", level=1)).to_have_text("Reports about members")
    expect(staff.get_by_role("cell", name="Ben Bold")).to_be_visible()
    expect(staff.get_by_role("cell", name="Harassment, bullying or threats")).to_be_visible()
    check_axe(staff)
    with live_server.app.app_context():
        report_id = db.session.scalar(sa.select(MemberReport.id))
    staff.get_by_role("link", name=f"Report {report_id}: a message").click()
    expect(staff.get_by_text("Tell me where you live or else.")).to_be_visible()
    expect(staff.get_by_text("He keeps asking for my address.")).to_be_visible()
    check_axe(staff)

    # Suspending needs a reason; then the account is suspended.
    staff.get_by_role("button", name="Suspend the account").click()
    expect(staff.locator("[data-error-summary]")).to_contain_text("Say why the account is suspended")
    check_axe(staff)
    staff.get_by_label("Why is the account suspended?").fill("You sent threatening messages to a member.")
    staff.get_by_role("button", name="Suspend the account").click()
    expect(staff.get_by_text("No reports are waiting for a decision.")).to_be_visible()
    check_axe(staff)
    staff.get_by_role("link", name="suspended accounts").click()
    expect(staff.get_by_role("heading", name="Ben Bold")).to_be_visible()
    check_axe(staff)

    # Ben cannot sign in, and is told why.
    ben_page = new_page()
    ben_page.goto("/account/sign-in")
    check_axe(ben_page)
    ben_page.get_by_label("Email address").fill("ben@example.test")
    ben_page.get_by_label("Password").fill(factories.PASSWORD)
    ben_page.get_by_role("button", name="Sign in").click()
    expect(ben_page.locator("[data-error-summary]")).to_contain_text("This account is suspended.")
    check_axe(ben_page)

    # Staff lift it.
    staff.get_by_role("button", name="Lift the suspension of Ben Bold").click()
    expect(staff.get_by_text("No accounts are suspended.")).to_be_visible()
    check_axe(staff)
    with live_server.app.app_context():
        assert db.session.get_one(User, ben_id).is_active


def test_block_and_unblock_without_javascript(new_page: Any, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        factories.user(name="Nora Noscript", email="nora@example.test")
        other = factories.user(name="Olly Other", email="olly@example.test")
        _list(other, "Olly")
        db.session.commit()
        other_id = other.id

    page = new_page(java_script_enabled=False)
    page.set_viewport_size(PHONE)
    sign_in(page, "nora@example.test", f"/people/{other_id}")
    page.get_by_role("button", name="Block Olly").click()
    expect(page.get_by_text("You blocked Olly.")).to_be_visible()
    check_axe(page)
    page.get_by_role("button", name="Unblock Olly").click()
    expect(page.get_by_text("You unblocked Olly. You can message each other again.")).to_be_visible()
    expect(page.get_by_text("You have not blocked anyone.")).to_be_visible()
    check_axe(page)
    _fits_the_screen(page)
