"""The whole identity journey in one browser: sign up, confirm the address from the email in the
outbox, accept an invitation to a team (the lead is told), then, made staff, set up two-factor
sign-in before anything else, sign out and sign in again with a code. Every page is axe-checked."""

from __future__ import annotations

import re
from typing import Any

import pyotp
import sqlalchemy as sa
from playwright.sync_api import expect

from portal.accounts.models import Role, User
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.grants import invitations
from portal.notifications.models import Notification
from tests import factories
from tests.e2e.conftest import LiveServer, check_axe
from tests.e2e.test_verification_journey import link_sent_to
from tests.factories import make_application, make_phase

PASSWORD = "willow harbour evening"
ADDRESS = "rowan@example.test"


def test_sign_up_confirm_accept_an_invitation_then_sign_in_with_two_factor_as_staff(
    new_page: Any, live_server: LiveServer
) -> None:
    with live_server.app.app_context():
        lead = factories.user(name="Lena Lead", email="lena@example.test")
        application = make_application(make_phase(), lead, title="Peer-led cafés")
        invitations.invite(invitations.Team(application, None), by=lead, email=ADDRESS, now=utcnow(), expiry_days=14)
        db.session.commit()
        application_id, lead_id = application.id, lead.id

    page = new_page()
    page.goto("/account/sign-up")
    check_axe(page)
    page.get_by_label("Your name").fill("Rowan Ash")
    page.get_by_label("Email address").fill(ADDRESS)
    page.get_by_label("Create a password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    check_axe(page)

    # Confirm from the email's link (signed out), then sign in.
    page.goto(link_sent_to(live_server, ADDRESS, "email_verification"))
    check_axe(page)
    page.get_by_role("button", name=f"Confirm {ADDRESS}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Email address confirmed")
    check_axe(page)
    page.goto("/account/sign-in?next=/dashboard")
    check_axe(page)
    page.get_by_label("Email address").fill(ADDRESS)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.get_by_role("region", name="Confirm your email address")).to_have_count(0)

    # The invitation waits on the dashboard; accepting it puts them on the team, and the lead is told.
    waiting = page.locator("#invitations")
    expect(waiting).to_contain_text("Lena Lead invited you to join the team for the application")
    check_axe(page)
    waiting.get_by_role("button", name=re.compile(r"^Accept")).click()
    expect(page).to_have_url(re.compile(rf"/applications/{application_id}$"))
    expect(page.locator("#team")).to_contain_text("Rowan Ash")
    check_axe(page)
    with live_server.app.app_context():
        told = db.session.scalars(sa.select(Notification.subject).where(Notification.recipient_id == lead_id)).all()
        assert any("Rowan Ash accepted your invitation" in subject for subject in told), told
        # An admin makes them staff (the admin pages are tested elsewhere).
        person = db.session.scalars(sa.select(User).where(User.email == ADDRESS)).one()
        person.role = Role.STAFF
        db.session.commit()

    # As staff, every page sends them to set up two-factor sign-in first.
    page.goto("/staff/phases")
    expect(page).to_have_url(re.compile(r"/account/two-factor/set-up$"))
    check_axe(page)
    authenticator = pyotp.TOTP(page.locator("#two-factor-key").inner_text().replace(" ", ""))
    page.get_by_label("Code from your app").fill(authenticator.now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your recovery codes")
    check_axe(page)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/$"))
    check_axe(page)

    # Signing in again: the password, then the app's next code (the one used at set-up is spent).
    page.goto("/account/sign-in?next=/staff/phases")
    check_axe(page)
    page.get_by_label("Email address").fill(ADDRESS)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/account/sign-in/code$"))
    check_axe(page)
    step = int(utcnow().timestamp() // 30) + 1
    page.wait_for_timeout(max(0, (step * 30 - utcnow().timestamp()) * 1000 + 200))
    page.get_by_label("Code", exact=True).fill(authenticator.at(step * 30))
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/staff/phases$"))
    check_axe(page)
