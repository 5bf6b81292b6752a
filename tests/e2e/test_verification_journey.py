"""Confirming an email address in a real browser, on a phone-sized screen and without
JavaScript: sign up, open the link from the email in the outbox, and the dashboard stops asking.
Then a change of address, and the pages that now wait for a click before changing anything.
Every page visited is checked with axe-core."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from playwright.sync_api import expect

from portal.core.extensions import db
from portal.core.outbox import OutboxMessage
from portal.notifications.models import Notification
from portal.notifications.service import notify
from tests.e2e.conftest import LiveServer, check_axe, watch_of

PHONE = {"width": 390, "height": 844}
PASSWORD = "lantern river morning"


def link_sent_to(live_server: LiveServer, address: str, kind: str) -> str:
    with live_server.app.app_context():
        message = db.session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.to_email == address, OutboxMessage.kind == kind)
            .order_by(OutboxMessage.id.desc())
        ).first()
        body = message.body if message is not None else None
    assert body is not None, f"no {kind} email to {address}"
    found = re.search(r"(/account/verify/\S+)", body)
    assert found is not None, body
    return found.group(1)


def test_sign_up_confirm_the_link_from_the_email_and_the_dashboard_stops_asking(
    new_page: Any, live_server: LiveServer
) -> None:
    page = new_page(java_script_enabled=False)
    page.set_viewport_size(PHONE)

    page.goto("/account/sign-up")
    check_axe(page)
    page.get_by_label("Your name").fill("Vera Fied")
    page.get_by_label("Email address").fill("vera@example.test")
    page.get_by_label("Create a password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    expect(page.get_by_text("We have sent an email to vera@example.test")).to_be_visible()
    check_axe(page)

    # Signed in before confirming: the dashboard says what is waiting, and sends a new link.
    page.get_by_role("main").get_by_role("link", name="sign in").click()
    check_axe(page)
    page.get_by_label("Email address").fill("vera@example.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    waiting = page.get_by_role("region", name="Confirm your email address")
    expect(waiting).to_contain_text("We sent a link to vera@example.test")
    check_axe(page)
    first_link = link_sent_to(live_server, "vera@example.test", "email_verification")
    waiting.get_by_role("button", name="Send a new link").click()
    expect(page.get_by_role("status")).to_contain_text("We have sent a new link to vera@example.test")
    check_axe(page)
    link = link_sent_to(live_server, "vera@example.test", "email_verification")
    assert link != first_link

    # Opening the link shows a button; confirming lands on the dashboard, which stops asking.
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your email address")
    check_axe(page)
    page.get_by_role("button", name="Confirm vera@example.test").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.get_by_role("status")).to_contain_text("vera@example.test is confirmed")
    expect(page.get_by_role("region", name="Confirm your email address")).to_have_count(0)
    check_axe(page)

    # The link worked once: the second time it is refused (410 Gone, which Chromium logs as a
    # console error; that one entry is expected).
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("This link cannot be used")
    check_axe(page)
    watch = watch_of(page)
    gone = [entry for entry in watch.console if "status of 410" in entry[1] and entry[2].endswith(link)]
    assert len(gone) == 1
    watch.console.remove(gone[0])


def test_change_address_and_open_things_by_clicking(new_page: Any, live_server: LiveServer) -> None:
    from tests import factories

    with live_server.app.app_context():
        person = factories.user(name="Cal Change", email="cal@example.test")
        notify(person, "validation", "Someone valued your post", "Ann said it resonates.", "/dashboard")
        db.session.commit()
        note_id = db.session.scalar(sa.select(Notification.id))
    page = new_page(java_script_enabled=False)
    page.set_viewport_size(PHONE)
    page.goto("/account/sign-in?next=/account/profile")
    check_axe(page)
    page.get_by_label("Email address").fill("cal@example.test")
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/account/profile$"))
    check_axe(page)

    page.get_by_role("link", name="Change your email address").click()
    check_axe(page)
    page.get_by_role("button", name="Send the link").click()
    expect(page.locator("[data-error-summary]")).to_be_visible()
    check_axe(page)
    page.get_by_label("New email address").fill("cal.new@example.test")
    page.get_by_label("Your password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("status")).to_contain_text("We have sent a link to cal.new@example.test")
    expect(page.get_by_text("Signed in as cal@example.test")).to_be_visible()  # not changed yet
    check_axe(page)

    # The link was sent to the new address; opened signed out, it confirms and invites to sign in.
    link = link_sent_to(live_server, "cal.new@example.test", "email_change_verification")
    page.get_by_role("button", name="Sign out").click()
    check_axe(page)
    page.goto(link)
    check_axe(page)
    page.get_by_role("button", name="Confirm cal.new@example.test").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Email address confirmed")
    check_axe(page)
    page.get_by_role("main").get_by_role("link", name="Sign in").click()
    check_axe(page)
    page.get_by_label("Email address").fill("cal.new@example.test")
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    check_axe(page)

    # A notification opened by its address shows it; its button marks it read and goes on.
    page.goto(f"/notifications/{note_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Someone valued your post")
    check_axe(page)
    page.get_by_role("button", name="Mark as read and open").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    check_axe(page)

    # The storyteller record is made by a button, not by looking.
    page.goto("/stories/me")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your storyteller record")
    check_axe(page)
    page.get_by_role("button", name="Start my storyteller record").click()
    expect(page.get_by_role("status")).to_contain_text("Your storyteller record is ready")
    check_axe(page)
