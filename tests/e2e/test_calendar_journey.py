"""The calendar link in a real browser, by keyboard only: a member makes their private link,
sees it once in a field they can copy from, the feed it names parses, and they turn it off.
Every page visited is checked with axe-core."""

from __future__ import annotations

from typing import Any

import icalendar
from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import LiveServer, check_axe
from tests.e2e.helpers import press_and_wait, sign_in, tab_to


def test_make_copy_and_turn_off_a_calendar_link(page: Any, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        factories.user(name="Mo Member", email="mo@example.test")
    sign_in(page, "mo@example.test", "/calendar")
    tab_to(page, "Make my calendar link")
    press_and_wait(page, "Enter")
    field = page.get_by_label("Your private calendar link")
    expect(field).to_be_visible()
    check_axe(page)
    feed_path = "/calendar/" + field.input_value().rsplit("/calendar/", 1)[1]
    assert feed_path.endswith(".ics")
    feed = page.request.get(feed_path)
    assert feed.status == 200
    assert isinstance(icalendar.Calendar.from_ical(feed.body()), icalendar.Calendar)

    tab_to(page, "Make a new link")
    tab_to(page, "Turn off my calendar link")
    press_and_wait(page, "Enter")
    expect(page.get_by_role("status")).to_contain_text("Your calendar link is turned off")
    expect(page.get_by_text("You do not have a calendar link yet.")).to_be_visible()
    check_axe(page)
    assert page.request.get(feed_path).status == 404
