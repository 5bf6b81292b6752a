"""Two-factor sign-in in a real browser: a new staff member signs in, is sent to set up
two-factor sign-in before anything else, sets it up by typing the key shown as text into an
authenticator (pyotp here), keeps the recovery codes, checks their signed-in devices, signs out,
and signs in again with a code; then a phone-sized screen without JavaScript does the same with
a recovery code. Every page visited is checked with axe-core."""

from __future__ import annotations

import re
from typing import Any

import pyotp
from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import LiveServer, check_axe
from tests.e2e.helpers import sign_in


def test_staff_set_up_two_factor_then_sign_in_with_a_code(new_page: Any, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        factories.user(name="Nell New", email="nell@example.test", role="staff", two_factor=False)

    page = new_page()
    page.goto("/account/sign-in?next=/staff/phases")
    check_axe(page)
    page.get_by_label("Email address").fill("nell@example.test")
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # Sent to set up a second factor before the staff page.
    expect(page).to_have_url(re.compile(r"/account/two-factor/set-up$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-factor sign-in")
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    check_axe(page)
    page.goto("/staff/phases")  # nothing else opens first
    expect(page).to_have_url(re.compile(r"/account/two-factor/set-up$"))
    check_axe(page)

    key = page.locator("#two-factor-key").inner_text().replace(" ", "")
    authenticator = pyotp.TOTP(key)
    page.get_by_label("Code from your app").fill("123")
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.locator("[data-error-summary]")).to_contain_text("Enter the 6-digit code")
    check_axe(page)
    page.get_by_label("Code from your app").fill(authenticator.now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your recovery codes")
    codes = page.get_by_role("list", name="Recovery codes").locator("code").all_inner_texts()
    assert len(codes) == 10
    check_axe(page)

    page.goto("/account/sessions")
    expect(page.get_by_text("This device")).to_be_visible()
    check_axe(page)
    page.goto("/staff/phases")
    expect(page).to_have_url(re.compile(r"/staff/phases$"))
    check_axe(page)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/$"))
    check_axe(page)

    # Signing in again, on another browser: password, then a recovery code instead of the app.
    sign_in_again = new_page()
    sign_in_again.goto("/account/sign-in?next=/staff/phases")
    check_axe(sign_in_again)
    sign_in_again.get_by_label("Email address").fill("nell@example.test")
    sign_in_again.get_by_label("Password").fill(factories.PASSWORD)
    sign_in_again.get_by_role("button", name="Sign in").click()
    expect(sign_in_again).to_have_url(re.compile(r"/account/sign-in/code$"))
    check_axe(sign_in_again)
    sign_in_again.get_by_label("Code", exact=True).fill(codes[0])  # a recovery code works too
    sign_in_again.get_by_role("button", name="Sign in").click()
    expect(sign_in_again).to_have_url(re.compile(r"/staff/phases$"))
    expect(sign_in_again.get_by_text("You used a recovery code: 9 left")).to_be_visible()
    check_axe(sign_in_again)


def test_a_phone_without_javascript_signs_in_with_a_code_and_ends_another_session(
    new_page: Any, live_server: LiveServer
) -> None:
    with live_server.app.app_context():
        factories.user(name="Sam Staff", email="sam@example.test", role="staff")

    laptop = new_page()
    sign_in(laptop, "sam@example.test", "/account/profile")

    phone = new_page(java_script_enabled=False)
    phone.set_viewport_size({"width": 390, "height": 844})
    sign_in(phone, "sam@example.test", "/account/sessions")
    devices = phone.locator(".session-item")
    expect(devices).to_have_count(2)
    width = phone.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"the sessions page is {width}px wide on a 390px screen"
    phone.get_by_role("button", name=re.compile("^Sign out this device")).click()
    expect(phone.get_by_text("That device has been signed out.")).to_be_visible()
    expect(phone.locator(".session-item")).to_have_count(1)
    check_axe(phone)

    laptop.goto("/account/profile")
    expect(laptop).to_have_url(re.compile(r"/account/sign-in\?next=/account/profile$"))
    check_axe(laptop)
