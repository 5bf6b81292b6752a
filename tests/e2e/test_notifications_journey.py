"""Notifications in a real browser, axe-checked: five approved claims make one notification
naming them, "Mark all as read" clears the count, and the settings page's radio groups save
(with and without JavaScript: they are plain form fields)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from playwright.sync_api import expect

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.notifications.service import wanted
from portal.remuneration import claims
from tests import factories
from tests.e2e.conftest import LiveServer, check_axe
from tests.e2e.helpers import sign_in


def test_grouped_notifications_and_the_settings_page(new_page: Any, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        member = factories.user(name="Mia Member", email="mia@example.test")
        staff = factories.user(role="staff", name="Sam Staff")
        meeting = factories.rate_card()["Meeting"]
        for day in range(2, 7):
            claim = claims.create_claim(
                member, claims.ClaimDetails(meeting.id, date(2026, 11, day), Decimal("1")), today=date(2026, 11, 23)
            )
            assert claims.submit_claim(claim, by=member, now=utcnow()) == []
            claims.approve_claim(claim, by=staff, now=utcnow())
        db.session.commit()
        member_id = member.id

    page = new_page()
    sign_in(page, "mia@example.test", "/notifications")
    grouped = page.get_by_role("button", name="5 claims approved: 'Meeting, 2 Nov 2026'", exact=False)
    expect(grouped).to_be_visible()
    expect(page.get_by_text("Meeting, 6 Nov 2026", exact=True).first).to_be_visible()
    check_axe(page)
    page.get_by_role("button", name="Mark all as read").click()
    expect(page.get_by_text("0 unread.")).to_be_visible()
    check_axe(page)

    page.goto("/notifications/settings")
    check_axe(page)
    page.get_by_role("group", name="Someone comments on your post").get_by_label("Off").check()
    page.get_by_role("group", name="Changes to your payment claims").get_by_label("In the portal", exact=True).check()
    page.get_by_label("Daily, every morning").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your notification choices are saved.")).to_be_visible()
    expect(page.get_by_label("Daily, every morning")).to_be_checked()
    check_axe(page)
    with live_server.app.app_context():
        assert wanted(member_id, "comment") == (False, False)
        assert wanted(member_id, "claim") == (True, False)
        assert wanted(member_id, "digest") == (False, True)
