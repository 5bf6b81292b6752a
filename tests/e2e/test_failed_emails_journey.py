"""Emails that failed for good, in a real browser: staff are told on the jobs page, open the list
(subjects, never bodies), send one again with the keyboard and see it waiting once more. Every
page visited is checked with axe-core."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from portal.core import outbox
from portal.core.db import utcnow
from portal.core.extensions import db
from tests import factories
from tests.e2e.conftest import LiveServer, check_axe
from tests.e2e.helpers import press_and_wait, sign_in, tab_to


def test_staff_see_failed_emails_and_send_one_again(page: Any, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        factories.user(name="Sam Staff", email="staff@example.test", role="staff")
        message = outbox.enqueue("reminder.report", "lee@example.test", "Your report is due", "The secret body")
        message.attempts, message.failed_at, message.last_error = outbox.MAX_ATTEMPTS, utcnow(), "Connection refused"
        db.session.commit()
        message_id = message.id

    sign_in(page, "staff@example.test", "/admin/jobs")
    expect(page.get_by_text("1 email could not be sent.")).to_be_visible()
    check_axe(page)
    page.get_by_role("link", name="See who they were for and send them again").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Emails that could not be sent")
    failed = page.get_by_role("table", name="Emails that could not be sent, newest first")
    expect(failed).to_contain_text("lee@example.test")
    expect(failed).to_contain_text("Your report is due")
    expect(failed).to_contain_text("Connection refused")
    expect(page.locator("main")).not_to_contain_text("The secret body")
    check_axe(page)
    page.set_viewport_size({"width": 390, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the table scrolls in its own box
    tab_to(page, f'form[action$="/emails/failed/{message_id}/send-again"] button')
    press_and_wait(page, "Enter")
    expect(page.get_by_role("status")).to_contain_text("The email to lee@example.test will be sent again")
    check_axe(page)
    with live_server.app.app_context():
        again = db.session.get(outbox.OutboxMessage, message_id)
        assert again is not None and again.failed_at is None  # waiting again (or already sent by the queue)
