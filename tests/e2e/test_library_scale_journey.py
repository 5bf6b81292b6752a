"""The story library's and the learning feed's light filters in a real browser, at 390 px, axe-
checked: a visitor types part of a project's name and picks a match (with htmx, from the list
that appears under the field, by keyboard; without JavaScript, from the page the form sends),
then walks the older and newer pages."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from portal.core.extensions import db
from portal.stories.models import Scope
from tests import factories
from tests import stories_factories as make
from tests.e2e.conftest import LiveServer, check_axe

NARROW = {"width": 390, "height": 844}


def _fits(page: Any) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth") <= NARROW["width"] + 1


def _shelf(live_server: LiveServer) -> None:
    with live_server.app.app_context():
        staff = factories.user(role="staff", name="Sam Staff", email="sam@example.test")
        teller = make.storyteller(by=staff)
        voices = factories.project(title="River Voices", lead=staff)
        carers = factories.project(title="Riverside Carers", lead=staff)
        for n in range(5):
            make.story(teller, by=staff, title=f"Voices story {n}", project_id=voices.id)
        make.story(teller, by=staff, title="Carers story", project_id=carers.id)
        make.story(teller, by=staff, title="Members story", project_id=carers.id, scope=Scope.NETWORK)
        factories.make_post(staff, title="Voices post", project_id=voices.id)
        db.session.commit()
        live_server.app.config["PAGE_SIZE"] = 2


def test_typing_a_project_with_htmx_and_the_keyboard(new_page: Any, live_server: LiveServer) -> None:
    _shelf(live_server)
    visitor = new_page()
    visitor.set_viewport_size(NARROW)
    visitor.goto("/stories")
    visitor.wait_for_function("() => window.htmx !== undefined")
    check_axe(visitor)
    _fits(visitor)
    field = visitor.get_by_role("searchbox", name="Project")
    field.click()
    visitor.keyboard.type("river")
    choices = visitor.locator("#project-choices")
    expect(choices).to_contain_text("2 projects with stories match “river”")
    expect(choices.get_by_role("link", name="River Voices")).to_be_visible()
    check_axe(visitor)
    _fits(visitor)
    visitor.keyboard.press("Tab")  # from the field straight to the first match
    expect(choices.get_by_role("link", name="River Voices")).to_be_focused()
    visitor.keyboard.press("Enter")
    expect(visitor).to_have_url(re.compile(r"/stories\?.*project=\d+"))
    expect(visitor.locator("#results [role=status]")).to_have_text("5 stories found from River Voices")
    check_axe(visitor)
    # Older, then newer: the project stays chosen.
    visitor.get_by_role("link", name="Older stories").click()
    expect(visitor).to_have_url(re.compile(r"project=\d+.*after=|after=.*project=\d+"))
    expect(visitor.locator("#results [role=status]")).to_have_text("5 stories found from River Voices")
    check_axe(visitor)
    _fits(visitor)
    visitor.get_by_role("link", name="Newer stories").click()
    expect(visitor.get_by_role("link", name="Voices story 4")).to_be_visible()
    check_axe(visitor)


def test_typing_a_project_without_javascript(new_page: Any, live_server: LiveServer) -> None:
    _shelf(live_server)
    visitor = new_page(java_script_enabled=False)
    visitor.set_viewport_size(NARROW)
    visitor.goto("/stories")
    check_axe(visitor)
    visitor.get_by_role("searchbox", name="Project").fill("river")
    visitor.get_by_role("button", name="Find stories").click()
    expect(visitor.locator("#project-choices")).to_contain_text("2 projects with stories match “river”")
    check_axe(visitor)
    _fits(visitor)
    visitor.locator("#project-choices").get_by_role("link", name="Riverside Carers").click()
    expect(visitor.locator("#results [role=status]")).to_have_text("1 story found from Riverside Carers")
    check_axe(visitor)
    # The learning feed's field works the same way.
    visitor.goto("/learning/")
    check_axe(visitor)
    visitor.get_by_role("searchbox", name="Project").fill("voices")
    visitor.get_by_role("button", name="Show posts").click()
    expect(visitor.get_by_role("status").first).to_contain_text("from River Voices")
    expect(visitor.get_by_role("link", name="Voices post")).to_be_visible()
    check_axe(visitor)
    _fits(visitor)
