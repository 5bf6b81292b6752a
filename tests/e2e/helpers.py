"""Helpers shared by the browser tests: signing in, and moving through a page by keyboard."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import check_axe

MAX_TABS = 60


def sign_in(page: Any, email: str, next_path: str, *, check_landing: bool = True) -> None:
    """Sign in through the form (axe-checked) and land on ``next_path``, axe-checked too unless
    ``check_landing=False`` (for a test that checks the page itself once it has looked at it)."""
    page.goto(f"/account/sign-in?next={next_path}")
    check_axe(page)
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(next_path) + "$"))
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
