"""Two team members write one progress report in real browsers, every page checked with axe-core:
one without JavaScript, one with it (the form is sent with htmx). Each saves from a page the other
has since saved: the save is refused, shows who saved first and when with both versions side by
side, and keeps the person's own text in the form to merge. A send with answers missing keeps
what was typed as the draft. The team then reads the report's saved versions and compares two."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from playwright.sync_api import expect

from portal.core.extensions import db
from portal.grants import projects
from tests import factories
from tests.e2e.conftest import LiveServer, check_axe
from tests.e2e.helpers import sign_in
from tests.test_grants_projects_reports import due_reports, funded_project

LEAD_TEXT = "Two birdsong walks with twelve people."
MEMBER_TEXT = "A walk by the canal, led by two members."


def test_two_people_one_report_neither_overwrites_the_other(new_page: Any, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        staff = factories.user(role="staff", name="Sam Staff")
        lead = factories.user(name="Lee Lead", email="lee@example.test")
        member = factories.user(name="Mo Member", email="mo@example.test")
        project = funded_project(staff, lead, (member,))
        project_id, report_id = project.id, due_reports(project)[0].id
    edit = f"/projects/{project_id}/reports/{report_id}/edit"

    with_js, without_js = new_page(), new_page(java_script_enabled=False)
    sign_in(with_js, "lee@example.test", edit)
    sign_in(without_js, "mo@example.test", edit)  # both have the draft open at the same version

    # Lee saves first.
    with_js.get_by_label("What happened").fill(LEAD_TEXT)
    with_js.get_by_role("button", name="Save as draft").click()
    expect(with_js.locator("div.flash[role=status]")).to_contain_text("Your draft is saved.")
    check_axe(with_js)

    # Mo, without JavaScript, saves from the page opened before: refused, with both versions.
    without_js.get_by_label("What happened").fill(MEMBER_TEXT)
    without_js.get_by_role("button", name="Save as draft").click()
    conflict = without_js.locator("#edit-conflict")
    expect(conflict.get_by_role("heading", level=2)).to_contain_text(
        re.compile(r"This was changed by Lee Lead on .* at \d\d:\d\d, since you opened it\.")
    )
    expect(conflict).to_contain_text(LEAD_TEXT)
    expect(conflict).to_contain_text(MEMBER_TEXT)
    expect(without_js.get_by_label("What happened")).to_have_value(MEMBER_TEXT)  # their own text stays
    check_axe(without_js)
    # Mo merges the two and saves again: that goes through.
    without_js.get_by_label("What happened").fill(f"{LEAD_TEXT} {MEMBER_TEXT}")
    without_js.get_by_role("button", name="Save as draft").click()
    expect(without_js.locator("div.flash[role=status]")).to_contain_text("Your draft is saved.")
    check_axe(without_js)

    # Lee's page is now the stale one: with htmx the refusal is swapped in, in place.
    with_js.get_by_label("Challenges").fill("Rain on the second walk.")
    with_js.get_by_role("button", name="Save as draft").click()
    conflict = with_js.locator("#edit-conflict")
    expect(conflict.get_by_role("heading", level=2)).to_contain_text("This was changed by Mo Member")
    expect(conflict).to_contain_text(MEMBER_TEXT)
    expect(with_js.get_by_label("Challenges")).to_have_value("Rain on the second walk.")
    expect(with_js.get_by_label("What happened")).to_have_value(LEAD_TEXT)
    expect(with_js).to_have_url(re.compile(re.escape(edit) + "$"))
    check_axe(with_js)

    # Lee takes Mo's words in and sends the report with answers missing: not sent, but kept as the draft.
    with_js.get_by_label("What happened").fill(f"{LEAD_TEXT} {MEMBER_TEXT}")
    with_js.get_by_role("button", name="Send the report").click()
    expect(with_js.locator("#what_changed-error")).to_contain_text("Say what changed")
    expect(with_js.locator(".flash-warning")).to_contain_text("What you wrote is saved as a draft")
    check_axe(with_js)
    with_js.goto(edit)  # leaving and coming back: what was typed is there
    expect(with_js.get_by_label("Challenges")).to_have_value("Rain on the second walk.")
    check_axe(with_js)
    with_js.get_by_label("Challenges").fill("Rain on the second walk, so we moved indoors.")
    expect(with_js.locator("#autosave-status")).to_contain_text(re.compile(r"Saved \d\d:\d\d"), timeout=10_000)
    check_axe(with_js)
    with_js.goto(edit)  # the autosaved words are the draft now
    expect(with_js.get_by_label("Challenges")).to_have_value("Rain on the second walk, so we moved indoors.")
    check_axe(with_js)

    # Every save is kept: the history, and what changed between two of them.
    with_js.goto(f"/projects/{project_id}/reports/{report_id}")
    check_axe(with_js)
    with_js.get_by_role("link", name="Saved versions of this report").click()
    expect(with_js.get_by_role("heading", level=1)).to_contain_text("Saved versions")
    expect(with_js.locator("main table")).to_contain_text("Mo Member")
    check_axe(with_js)
    with_js.get_by_role("button", name="Compare the two versions").click()
    expect(with_js.get_by_role("heading", level=1)).to_contain_text("What changed")
    expect(with_js.locator("main ins").first).to_be_visible()
    check_axe(with_js)


def test_two_people_change_one_milestone(new_page: Any, live_server: LiveServer) -> None:
    """The milestone page (new with issue 11): a stale save shows both versions, under axe."""
    with live_server.app.app_context():
        staff = factories.user(role="staff", name="Sam Staff")
        lead = factories.user(name="Lee Lead", email="lee@example.test")
        member = factories.user(name="Mo Member", email="mo@example.test")
        project = funded_project(staff, lead, (member,))
        milestone = projects.add_milestone(project, title="First walk", due_on=date(2026, 3, 1), by=lead)
        db.session.commit()
        project_id, milestone_id = project.id, milestone.id
    edit = f"/projects/{project_id}/milestones/{milestone_id}/edit"

    first, second = new_page(), new_page(java_script_enabled=False)
    sign_in(first, "lee@example.test", f"/projects/{project_id}")
    first.get_by_role("link", name=re.compile(r"^Change\W+First walk$")).click()
    expect(first).to_have_url(re.compile(re.escape(edit) + "$"))
    check_axe(first)
    sign_in(second, "mo@example.test", edit)
    first.get_by_label("Milestone").fill("First birdsong walk")
    first.get_by_role("button", name="Save the milestone").click()
    expect(first.locator("div.flash[role=status]")).to_contain_text("Milestone saved.")
    check_axe(first)
    second.get_by_label("Milestone").fill("First walk, by the river")
    second.get_by_role("button", name="Save the milestone").click()
    expect(second.locator("#edit-conflict")).to_contain_text("This was changed by Lee Lead")
    expect(second.locator("#edit-conflict")).to_contain_text("First birdsong walk")
    expect(second.get_by_label("Milestone")).to_have_value("First walk, by the river")
    check_axe(second)
