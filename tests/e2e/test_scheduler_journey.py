"""The programme running itself, in a real browser: the scheduler reminds a pilot lead that a
report is due in 7 days (on their dashboard, and by email in the outbox), and staff see the
scheduled jobs, run one now and see its result. Every page visited is checked with axe-core."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from playwright.sync_api import expect

from portal.core import schedule
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.core.outbox import OutboxMessage
from portal.grants.models import ProgressReport, ReportState
from tests import factories
from tests.e2e.conftest import LiveServer, check_axe
from tests.e2e.helpers import press_and_wait, sign_in, tab_to
from tests.helpers import run_tasks

REMINDER = "The report for 'Peer-led recovery cafés' is due in 7 days"


def test_a_lead_is_reminded_of_a_report_due_in_7_days(page: Any, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        lead = factories.user(name="Lee Lead", email="lead@example.test")
        project = factories.project(title="Peer-led recovery cafés", lead=lead)
        db.session.add(
            ProgressReport(project_id=project.id, due_on=london_today() + timedelta(days=7), state=ReportState.DUE)
        )
        db.session.commit()
        schedule.tick(utcnow())  # what a worker does every minute
        run_tasks()
        # Sent by the same tick: the outbox keeps its kind, recipient and time, not its words.
        [email] = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_email == "lead@example.test"))
        assert email.kind.startswith("reminder.") and email.sent_at is not None and email.body == ""

    sign_in(page, "lead@example.test", "/dashboard")
    reminders = page.get_by_role("region", name="Reminders")
    expect(reminders.get_by_role("button", name=REMINDER)).to_be_visible()  # a POST: opening marks it read
    tab_to(page, REMINDER)
    press_and_wait(page, "Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Progress report due")
    check_axe(page)


def test_staff_see_the_scheduled_jobs_and_run_one(page: Any, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        factories.user(name="Sam Staff", email="staff@example.test", role="staff")
        schedule.tick(utcnow())
        run_tasks()
    sign_in(page, "staff@example.test", "/admin/jobs")
    expect(page.get_by_role("heading", name="Scheduled jobs")).to_be_visible()
    expect(page.get_by_text("Running", exact=True)).to_be_visible()
    jobs = page.get_by_role("table", name="Scheduled jobs and their last run")
    expect(jobs.get_by_role("link", name="Open and close funding rounds at their dates")).to_be_visible()
    expect(jobs.get_by_text("Sent 0, failed 0.")).to_be_visible()
    tab_to(page, 'form[action$="/jobs/emails/run"] button')
    press_and_wait(page, "Enter")
    expect(page.get_by_role("status")).to_contain_text("is queued")
    expect(page.get_by_role("heading", name="Send waiting emails")).to_be_visible()
    check_axe(page)
    with live_server.app.app_context():
        run_tasks()
    page.reload()
    expect(
        page.get_by_role("table", name="Runs of Send waiting emails, page 1").get_by_text("Succeeded")
    ).to_have_count(2)
    check_axe(page)
