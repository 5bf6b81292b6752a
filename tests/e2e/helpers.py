"""Helpers shared by the browser tests: signing in, and moving through a page by keyboard."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlsplit

import pyotp
from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import check_axe

MAX_TABS = 60


CODE_PAGE = "/account/sign-in/code"
_used_steps: dict[tuple[str, str], int] = {}  # (server, email) -> the last time step whose code was typed


def current_code(page: Any, email: str, secret: str = factories.TOTP_SECRET) -> str:
    """The code the person's authenticator app shows now, as a person would read it: one whose
    30-second step this server has not accepted yet (the portal refuses a code used before), so
    a second sign-in in the same half minute waits for the app's next code."""
    server = urlsplit(page.url).netloc
    step = int(time.time() // 30)
    last = _used_steps.get((server, email))
    if last is not None and step <= last:
        time.sleep((last + 1) * 30 - time.time() + 0.1)
        step = last + 1
    _used_steps[(server, email)] = step
    return str(pyotp.TOTP(secret).at(step * 30))


def sign_in(page: Any, email: str, next_path: str, *, check_landing: bool = True) -> None:
    """Sign in through the form (axe-checked) and land on ``next_path``, axe-checked too unless
    ``check_landing=False`` (for a test that checks the page itself once it has looked at it).
    People with two-factor sign-in (every staff, finance and admin test account) enter the code
    from their app on the second page, axe-checked too."""
    page.goto(f"/account/sign-in?next={next_path}")
    check_axe(page)
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    landing = re.compile(re.escape(next_path) + "$")
    page.wait_for_url(re.compile(f"({re.escape(next_path)}|{re.escape(CODE_PAGE)})$"))
    if page.url.endswith(CODE_PAGE) and not landing.search(page.url):
        check_axe(page)
        page.get_by_label("Code", exact=True).fill(current_code(page, email))
        page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(landing)
    if check_landing:
        check_axe(page)


def active_element(page: Any) -> str:
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            if (!el || el === document.body) return '(body)';
            const text = (el.innerText || el.value || '').trim().slice(0, 40);
            return `<${el.tagName.toLowerCase()}${el.id ? ' id=' + el.id : ''}> ${text}`;
        }"""
    )


def tab_to(page: Any, target: str) -> None:
    """Press Tab until the focused element matches ``target``: a CSS selector that matches an
    element on the page, or else the element's own text or its label's text."""
    seen = []
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        found = page.evaluate(
            """(target) => {
                const el = document.activeElement;
                if (!el || el === document.body) return false;
                let selector = false;
                try { selector = document.querySelector(target) !== null; } catch (e) { selector = false; }
                if (selector) return el.matches(target);
                const own = (el.innerText || el.value || el.getAttribute('aria-label') || '').trim();
                const labels = Array.from(el.labels || []).map((label) => label.innerText.trim());
                return own === target || labels.includes(target);
            }""",
            target,
        )
        if found:
            return
        seen.append(active_element(page))
    raise AssertionError(f"{target!r} not reached in {MAX_TABS} presses of Tab; focus went: {seen}")


def press_and_wait(page: Any, key: str) -> None:
    """Press a key that loads a new page (follow a link, submit a form) and wait for it."""
    with page.expect_navigation():
        page.keyboard.press(key)


def assert_focused(page: Any, selector: str) -> None:
    expect(page.locator(selector)).to_be_focused()
