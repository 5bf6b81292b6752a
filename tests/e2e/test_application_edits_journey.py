"""Two people writing one application draft in real browsers, every page checked with axe-core:
the lead saves first; the member's save from the page they had open is refused with both versions
side by side and their own text kept in the form; they merge and save. The lead's page, still
open, then autosaves (htmx) and is shown the member's version instead of overwriting it. Then the
saved versions, and a comparison of two of them."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import LiveServer, check_axe
from tests.e2e.helpers import sign_in

LEADS = "Weekly cafés run by people in recovery, in two towns."
MEMBERS = "Weekly cafés run by people in recovery, with a crèche."
MERGED = "Weekly cafés run by people in recovery, in two towns, with a crèche."


def test_two_people_edit_one_draft_and_nothing_is_overwritten(new_page: Any, live_server: LiveServer) -> None:
    from portal.core.formatting import london_today

    with live_server.app.app_context():
        lead_user = factories.user(name="Lena Lead", email="lena@example.test")
        member_user = factories.user(name="Mo Member", email="mo@example.test")
        phase = factories.make_phase(today=london_today())
        application = factories.make_application(phase, lead_user, members=(member_user,), lines=(1_000_00,))
        edit_path = f"/applications/{application.id}/edit"

    # Both open the draft.
    lead = new_page()
    sign_in(lead, "lena@example.test", edit_path)
    check_axe(lead)
    member = new_page()
    sign_in(member, "mo@example.test", edit_path)
    check_axe(member)

    # The lead saves first.
    lead.get_by_label("Summary").fill(LEADS)
    lead.get_by_role("button", name="Save the draft").click()
    expect(lead.get_by_role("status").filter(has_text="Your draft is saved.")).to_be_visible()
    check_axe(lead)

    # The member's save, from the page they opened before, is refused: both versions, theirs kept.
    member.get_by_label("Summary").fill(MEMBERS)
    member.get_by_role("button", name="Save the draft").click()
    conflict = member.locator("#edit-conflict")
    expect(conflict).to_contain_text("This was changed by Lena Lead")
    expect(conflict).to_contain_text(LEADS)
    expect(conflict).to_contain_text(MEMBERS)
    expect(member.get_by_label("Summary")).to_have_value(MEMBERS)
    check_axe(member)

    # They merge the two and save.
    member.get_by_label("Summary").fill(MERGED)
    member.get_by_role("button", name="Save the draft").click()
    expect(member.get_by_role("status").filter(has_text="Your draft is saved.")).to_be_visible()
    expect(member.get_by_label("Summary")).to_have_value(MERGED)
    check_axe(member)

    # The lead's page is still the one they saved; typing autosaves, and is refused (htmx).
    lead.get_by_label("Co-design", exact=True).fill("They design the cafés with us, every month.")
    status = lead.locator("#autosave-status")
    expect(status).to_contain_text("This was changed by Mo Member")
    expect(status).to_contain_text(MERGED)
    expect(status).to_contain_text("Autosave has stopped")
    check_axe(lead)
    # Opening the page again shows the saved text and who saved it last.
    lead.goto(edit_path)
    expect(lead.locator("main")).to_contain_text("by Mo Member.")
    expect(lead.get_by_label("Summary")).to_have_value(MERGED)
    check_axe(lead)

    # Then the saved versions, and what changed between two of them.
    member.goto(f"/applications/{application.id}")
    check_axe(member)
    member.get_by_role("link", name="Saved versions of this application").click()
    expect(member.get_by_role("heading", level=1)).to_contain_text("Saved versions")
    expect(member.locator("main")).to_contain_text("Mo Member")
    expect(member.locator("main")).to_contain_text("Lena Lead")
    check_axe(member)
    member.get_by_role("button", name="Compare the two versions").click()
    expect(member.get_by_role("heading", level=1)).to_contain_text("What changed")
    expect(member.locator("main ins").first).to_be_visible()
    check_axe(member)
