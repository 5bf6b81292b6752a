"""Are you sure?, in a real browser: a storyteller withdraws a story through its confirmation
page (first changing their mind with "No, keep it"); staff cancel a claim by keyboard only, through
its confirmation page; and without JavaScript a person closes their own account with their
password. Every page visited is checked with axe-core, the phone-width one too."""

from __future__ import annotations

import zipfile
from typing import Any

from playwright.sync_api import expect

from portal.accounts.models import User
from portal.core.extensions import db
from portal.remuneration.models import Claim, ClaimState
from portal.stories.models import Story, StoryState
from tests import factories
from tests import stories_factories as make
from tests.e2e.conftest import LiveServer, check_axe
from tests.e2e.helpers import press_and_wait, sign_in, tab_to
from tests.factories import submitted

TITLE = "The day the bus came back"


def _story_state(live_server: LiveServer, story_id: int) -> StoryState:
    with live_server.app.app_context():
        story = db.session.get(Story, story_id)
        assert story is not None
        return story.state


def test_withdraw_a_story_after_being_asked(new_page: Any, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        member = factories.user(name="Tess Teller", email="tess@example.test")
        staff = factories.user(role="staff", name="Sam Staff", email="sam@example.test")
        teller = make.storyteller(user=member, by=member)
        story_id = make.story(teller, by=member, staff=staff, title=TITLE).id

    page = new_page()
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    sign_in(page, "tess@example.test", "/stories/mine")
    page.get_by_role("link", name=f"Withdraw “{TITLE}”").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Withdraw “{TITLE}”?")
    expect(page.locator("main")).to_contain_text("This cannot be undone.")
    check_axe(page)
    page.get_by_role("link", name="No, keep it").click()  # changing their mind keeps it
    expect(page).to_have_url(f"{live_server.url}/stories/mine")
    check_axe(page)
    assert _story_state(live_server, story_id) == StoryState.PUBLISHED

    page.get_by_role("link", name=f"Withdraw “{TITLE}”").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Withdraw “{TITLE}”?")
    check_axe(page)
    page.get_by_role("button", name="Yes, withdraw and delete it").click()
    expect(page.get_by_role("status")).to_contain_text("The story has been withdrawn")
    expect(page.locator("main")).not_to_contain_text(TITLE)
    check_axe(page)
    assert _story_state(live_server, story_id) == StoryState.WITHDRAWN


def test_staff_cancel_a_claim_by_keyboard_after_being_asked(new_page: Any, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        member = factories.user(name="Mo Member", email="mo@example.test")
        factories.user(role="staff", name="Sam Staff", email="sam@example.test")
        claim_id = submitted(member, factories.rate_card()["Meeting"]).id

    def state() -> ClaimState:
        with live_server.app.app_context():
            claim = db.session.get(Claim, claim_id)
            assert claim is not None
            return claim.state

    staff = new_page()
    sign_in(staff, "sam@example.test", f"/claims/{claim_id}")
    tab_to(staff, "Why is this claim being cancelled?")
    staff.keyboard.type("Made twice by mistake")
    tab_to(staff, "Cancel the claim")
    press_and_wait(staff, "Enter")
    expect(staff.get_by_role("heading", level=1)).to_have_text(f"Cancel claim {claim_id}?")
    expect(staff.locator("main")).to_contain_text("tell 1 person, the claimant Mo Member")
    check_axe(staff)
    assert state() == ClaimState.SUBMITTED  # asked, nothing done yet
    tab_to(staff, "Yes, cancel the claim")
    press_and_wait(staff, "Enter")
    expect(staff.get_by_role("status")).to_contain_text("The claim is cancelled.")
    check_axe(staff)
    assert state() == ClaimState.VOIDED


def test_close_your_own_account_without_javascript(new_page: Any, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        person_id = factories.user(name="Cass Closer", email="cass@example.test").id

    page = new_page(java_script_enabled=False)
    sign_in(page, "cass@example.test", "/account/profile")
    page.get_by_role("link", name="Close your account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Close your account?")
    expect(page.locator("main")).to_contain_text("What stays for now")
    check_axe(page)
    page.get_by_role("button", name="Yes, close my account").click()  # without the password
    expect(page.locator(".error-summary")).to_contain_text("Enter your password to close your account.")
    check_axe(page)
    page.get_by_label("Your password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Yes, close my account").click()
    expect(page.get_by_role("status")).to_contain_text("Your account is closed")
    expect(page.get_by_role("link", name="Sign in", exact=True)).to_be_visible()
    check_axe(page)
    with live_server.app.app_context():
        person = db.session.get(User, person_id)
        assert person is not None and not person.is_active


def test_download_then_erase_your_data_without_javascript(new_page: Any, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        person_id = factories.user(name="Dora Downloader", email="dora@example.test", bio="Dora likes kites.").id

    page = new_page(java_script_enabled=False)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    sign_in(page, "dora@example.test", "/account/profile")
    check_axe(page)
    page.get_by_role("link", name="Download your data").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your data")
    check_axe(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download my data").click()
    archive = zipfile.ZipFile(download.value.path())
    assert "README.txt" in archive.namelist()
    assert "Dora likes kites." in archive.read("profile.json").decode()

    page.get_by_role("link", name="Erase my data").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Erase your data?")
    check_axe(page)
    page.get_by_role("button", name="Yes, erase my data").click()  # without the password
    expect(page.locator(".error-summary")).to_contain_text("Enter your password to erase your data.")
    check_axe(page)
    page.get_by_label("Your password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Yes, erase my data").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your data is erased")
    check_axe(page)
    with live_server.app.app_context():
        person = db.session.get(User, person_id)
        assert person is not None and person.erased_at is not None and person.name.startswith("Former member #")
