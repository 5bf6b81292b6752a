"""A team in a real browser, axe-checked on every page: a lead invites an address; its owner
(verified) signs in on a 390 px phone without JavaScript, finds the invitation on the dashboard
and accepts it; the lead sees them on the team and removes them, after a confirmation page."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from portal.core.extensions import db
from portal.grants.models import Invitation, InvitationState
from tests import factories
from tests.e2e.conftest import LiveServer, check_axe, watch_of
from tests.e2e.helpers import sign_in
from tests.factories import make_application, make_phase

PHONE = {"width": 390, "height": 844}


def flashed(page: Any, text: str) -> None:
    expect(page.get_by_role("status").filter(has_text=text).first).to_be_visible()


def fits_the_screen(page: Any) -> None:
    """Nothing wider than the phone: no sideways scrolling."""
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]


def test_invite_accept_on_a_phone_then_remove_with_a_confirmation(new_page: Any, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        lead = factories.user(name="Lena Lead", email="lena@example.test")
        factories.user(name="Ivy Invitee", email="ivy@example.test")  # verified, as factories make them
        application_id = make_application(make_phase(), lead).id
        db.session.commit()

    lead_page = new_page()
    sign_in(lead_page, "lena@example.test", f"/applications/{application_id}")
    lead_page.get_by_label("Their email address").fill("ivy@example.test")
    lead_page.get_by_role("button", name="Send the invitation").click()
    flashed(lead_page, "We have emailed ivy@example.test. They join the team when they accept")
    expect(lead_page.locator("#team")).to_contain_text("ivy@example.test: Waiting for an answer until")
    check_axe(lead_page)

    # The invitee, on a phone and without JavaScript: the dashboard lists the invitation.
    phone = new_page(java_script_enabled=False)
    phone.set_viewport_size(PHONE)
    sign_in(phone, "ivy@example.test", "/dashboard")
    invitations = phone.locator("#invitations")
    expect(invitations).to_contain_text("Lena Lead invited you to join the team for the application")
    fits_the_screen(phone)
    invitations.get_by_role("button", name=re.compile(r"^Accept")).click()
    expect(phone).to_have_url(re.compile(rf"/applications/{application_id}$"))
    flashed(phone, "You have joined the team for the application")
    expect(phone.locator("#team")).to_contain_text("Ivy Invitee")
    fits_the_screen(phone)
    check_axe(phone)
    with live_server.app.app_context():
        assert db.session.query(Invitation).one().state == InvitationState.ACCEPTED

    # The lead sees them on the team, and removes them after being asked.
    lead_page.reload()
    expect(lead_page.locator("#team")).to_contain_text("ivy@example.test: Accepted")
    check_axe(lead_page)
    lead_page.get_by_role("link", name="Change role or remove Ivy Invitee").click()
    expect(lead_page.get_by_role("heading", level=1)).to_have_text("Ivy Invitee")
    check_axe(lead_page)
    lead_page.get_by_role("link", name="Remove Ivy Invitee from the team").click()
    expect(lead_page.get_by_role("heading", level=1)).to_have_text("Remove Ivy Invitee from the team?")
    check_axe(lead_page)
    lead_page.get_by_role("button", name="Yes, remove Ivy Invitee").click()
    expect(lead_page).to_have_url(re.compile(rf"/applications/{application_id}#team$"))
    flashed(lead_page, "Ivy Invitee is no longer on the team. We have told them.")
    expect(lead_page.locator("#team ul").first).not_to_contain_text("Ivy Invitee")
    check_axe(lead_page)

    # Their access ends at once.
    with phone.expect_console_message(lambda message: "status of 403" in message.text):
        phone.reload()
    expect(phone.get_by_role("heading", level=1)).to_have_text("You do not have permission to see this page")
    check_axe(phone)
    # Chromium logs the 403 as a console error; it is the answer this test expects, so it is taken
    # off the page's list of problems (any other stays).
    watch = watch_of(phone)
    [forbidden] = [entry for entry in watch.console if "status of 403" in entry[1]]
    watch.console.remove(forbidden)


def test_the_invitation_page_and_a_projects_team_pages(new_page: Any, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        lead = factories.user(name="Pat Lead", email="pat@example.test")
        member = factories.user(name="Moe Member", email="moe@example.test")
        project = factories.project(title="Recovery cafés", lead=lead, members=(member,))
        project_id, member_id = project.id, member.id
        db.session.commit()

    # The lead invites to the project; the invitee follows the email's link and declines.
    lead_page = new_page()
    sign_in(lead_page, "pat@example.test", f"/projects/{project_id}")
    lead_page.get_by_label("Their email address").fill("dee@example.test")
    lead_page.get_by_role("button", name="Send the invitation").click()
    flashed(lead_page, "We have emailed dee@example.test.")
    check_axe(lead_page)
    with live_server.app.app_context():
        factories.user(name="Dee Decliner", email="dee@example.test")
        invitation_id = db.session.query(Invitation.id).scalar()

    invitee = new_page()
    sign_in(invitee, "dee@example.test", f"/invitations/{invitation_id}")
    expect(invitee.locator("main")).to_contain_text("Pat Lead")
    invitee.get_by_role("button", name="Decline").click()
    flashed(invitee, "You have declined the invitation to the pilot project 'Recovery cafés'.")
    check_axe(invitee)

    # The lead sees the answer, then opens a member's page and changes their role.
    lead_page.reload()
    expect(lead_page.locator("#team")).to_contain_text("dee@example.test: Declined")
    check_axe(lead_page)
    lead_page.get_by_role("link", name="Change role or remove Moe Member").click()
    expect(lead_page).to_have_url(re.compile(rf"/projects/{project_id}/team/{member_id}$"))
    check_axe(lead_page)
    lead_page.get_by_label(re.compile(r"^Lead:")).check()
    lead_page.get_by_role("button", name="Save their role").click()
    flashed(lead_page, "Moe Member is now a lead of the team. We have told them.")
    check_axe(lead_page)
