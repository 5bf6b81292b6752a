"""Account journeys in a real browser: keyboard only, without JavaScript, and htmx from the
local fallback copy. Every page visited is checked with axe-core."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import LiveServer, check_axe, watch_of
from tests.e2e.helpers import assert_focused, press_and_wait, sign_in, tab_to


def test_keyboard_only_sign_up_profile_sign_out_and_sign_in(page: Any, live_server: LiveServer) -> None:
    page.goto("/")
    check_axe(page)

    # The first Tab reaches the skip link, and following it puts focus on the main content.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()  # hidden off screen until it has focus, then shown
    page.keyboard.press("Enter")
    assert_focused(page, "#main")
    check_axe(page)

    # Sign up. An empty form first: the error summary appears and takes focus.
    tab_to(page, "Create an account")
    press_and_wait(page, "Enter")
    expect(page).to_have_url(re.compile(r"/account/sign-up$"))
    check_axe(page)
    tab_to(page, "Create account")
    press_and_wait(page, "Enter")
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("Enter your name.")
    assert page.evaluate("() => document.activeElement.matches('[data-error-summary]')")
    assert page.locator("#name").get_attribute("aria-invalid") == "true"
    check_axe(page)

    # The summary's links lead to the fields; fill them in and submit with Enter.
    tab_to(page, "Enter your name.")
    page.keyboard.press("Enter")
    assert_focused(page, "#name")
    page.keyboard.type("Kay Board")
    tab_to(page, "#email")
    page.keyboard.type("kay@example.test")
    tab_to(page, "#password")
    page.keyboard.type("keyboard only all the way")
    press_and_wait(page, "Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    check_axe(page)

    # Signing in works before the address is confirmed (the dashboard asks for it).
    tab_to(page, "sign in")
    press_and_wait(page, "Enter")
    expect(page).to_have_url(re.compile(r"/account/sign-in$"))
    check_axe(page)
    tab_to(page, "#email")
    page.keyboard.type("kay@example.test")
    tab_to(page, "#password")
    page.keyboard.type("keyboard only all the way")
    press_and_wait(page, "Enter")
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.get_by_role("region", name="Confirm your email address")).to_be_visible()
    check_axe(page)
    page.goto("/account/profile")
    check_axe(page)

    # Profile: pronouns, bio and access needs, saved from the keyboard.
    tab_to(page, "#pronouns")
    page.keyboard.type("they/them")
    tab_to(page, "#bio")
    page.keyboard.type("I test things with a keyboard.")
    tab_to(page, "#access_needs")
    page.keyboard.type("Step-free access, please.")
    tab_to(page, "Save profile")
    press_and_wait(page, "Enter")
    expect(page.get_by_role("status")).to_contain_text("Your profile has been saved.")
    check_axe(page)
    page.reload()
    expect(page.locator("#pronouns")).to_have_value("they/them")
    expect(page.locator("#bio")).to_have_value("I test things with a keyboard.")
    expect(page.locator("#access_needs")).to_have_value("Step-free access, please.")
    check_axe(page)

    # Sign out with the button in the navigation.
    tab_to(page, "Sign out")
    press_and_wait(page, "Enter")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("status")).to_contain_text("You have signed out.")
    check_axe(page)

    # And sign in again.
    tab_to(page, "Sign in")
    press_and_wait(page, "Enter")
    expect(page).to_have_url(re.compile(r"/account/sign-in$"))
    check_axe(page)
    tab_to(page, "#email")
    page.keyboard.type("kay@example.test")
    tab_to(page, "#password")
    page.keyboard.type("keyboard only all the way")
    press_and_wait(page, "Enter")
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Kay Board")
    check_axe(page)


def test_sign_in_profile_and_sign_out_work_without_javascript(new_page: Any, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        factories.user(name="Noor Script", email="noor@example.test", password=factories.PASSWORD)
    page = new_page(java_script_enabled=False)

    page.goto("/account/sign-in")
    check_axe(page)
    page.get_by_label("Email address").fill("noor@example.test")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("[data-error-summary]")).to_be_visible()
    check_axe(page)

    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Noor Script")
    check_axe(page)

    page.get_by_role("link", name="Your profile").first.click()
    expect(page).to_have_url(re.compile(r"/account/profile$"))
    check_axe(page)
    page.get_by_label("Pronouns (optional)").fill("she/her")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status")).to_contain_text("Your profile has been saved.")
    expect(page.get_by_label("Pronouns (optional)")).to_have_value("she/her")
    check_axe(page)

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("status")).to_contain_text("You have signed out.")
    expect(page.get_by_role("navigation", name="Your account").get_by_role("link", name="Sign in")).to_be_visible()
    check_axe(page)


def test_admin_people_search_updates_in_place_with_the_local_htmx(page: Any, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        admin = factories.user(role="admin", name="Ada Admin", email="ada@example.test")
        grace = factories.user(name="Grace Hopper", email="grace@example.test", pronouns="she/her")
        factories.user(name="Alan Turing", email="alan@example.test")
        factories.user(name="Barbara Liskov", email="barbara@example.test")
        factories.audit_entries(3, actor=admin, target=grace)
        grace_id = grace.id

    sign_in(page, "ada@example.test", "/admin/users")  # password, then the code from Ada's app

    # The CDN copy was blocked, so htmx is the pinned copy the page falls back to.
    page.wait_for_function("() => window.htmx !== undefined && typeof window.htmx.version === 'string'")
    assert any(url.startswith("https://") for url in watch_of(page).aborted), watch_of(page).aborted
    assert page.locator('script[src="/static/vendor/htmx.min.js"]').count() == 1
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(4)

    # Typing in the search box swaps the results in place (no page load) and updates the URL.
    page.evaluate("() => { window.__samePage = true; }")
    page.get_by_label("Search by name or email").press_sequentially("Grace")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Grace Hopper")
    expect(page.locator("#results [role=status]")).to_have_text("1 person found")
    expect(page).to_have_url(re.compile(r"/admin/users\?.*q=Grace"))
    assert page.evaluate("() => window.__samePage === true"), "the search reloaded the whole page"
    check_axe(page)

    page.get_by_role("link", name="Grace Hopper").click()
    expect(page).to_have_url(re.compile(rf"/admin/users/{grace_id}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Grace Hopper")
    check_axe(page)

    page.get_by_role("navigation", name="Your account").get_by_role("link", name="Audit log").click()
    expect(page).to_have_url(re.compile(r"/admin/audit$"))
    expect(page.locator("#results tbody tr")).to_have_count(3)
    check_axe(page)
