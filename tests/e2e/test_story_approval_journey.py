""" "Ask me before publishing" in a real browser, every page checked with axe-core: a moderator
edits a name out of a story whose storyteller asked to approve changes and presses "Save edits
and publish"; the storyteller signs in, sees exactly what changed, and approves; the public page
shows the edited text, never the name."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests import factories
from tests import stories_factories as make
from tests.e2e.conftest import LiveServer, check_axe
from tests.e2e.helpers import sign_in

TITLE = "The clinic on Tuesdays"
TOLD = "Every Tuesday I saw Dr Nadia Kowalski at the clinic, and she listened."
EDITED = "Every Tuesday I saw a doctor at the clinic, and she listened."


def test_moderator_edits_storyteller_approves_public_sees_the_edit(new_page: Any, live_server: LiveServer) -> None:
    from portal.stories.models import Scope, StoryState

    with live_server.app.app_context():
        member = factories.user(name="Mo Member", email="mo@example.test")
        staff_user = factories.user(role="staff", name="Sam Staff", email="sam@example.test")
        teller = make.storyteller(user=member, by=member)
        story = make.story(
            teller,
            by=member,
            staff=staff_user,
            state=StoryState.IN_REVIEW,
            title=TITLE,
            body=TOLD,
            scope=Scope.PUBLIC,
            ask_before_publishing=True,
        )
        story_id = story.id

    # The moderator edits the name out and presses "Save edits and publish", in one step.
    staff = new_page()
    sign_in(staff, "sam@example.test", f"/stories/{story_id}/moderate")
    expect(staff.locator("#ask-note")).to_contain_text("asked to approve changes before publishing")
    check_axe(staff)
    staff.get_by_label("Story", exact=True).fill(EDITED)
    staff.get_by_role("button", name="Save edits and publish").click()
    expect(staff.get_by_role("status")).to_contain_text("asked to approve them")
    expect(staff.get_by_text("Waiting for the storyteller's approval").first).to_be_visible()
    check_axe(staff)

    # Not public yet. (Asked for without navigating: a 404 page load would log a console error.)
    visitor = new_page()
    assert visitor.request.get(f"/stories/{story_id}").status == 404

    # The storyteller signs in, sees exactly what changed, and approves.
    teller_page = new_page()
    sign_in(teller_page, "mo@example.test", "/stories/mine")
    check_axe(teller_page)
    teller_page.get_by_role("link", name=f"See our changes to “{TITLE}” and approve them").click()
    expect(teller_page.get_by_role("heading", level=1)).to_have_text("Check our changes to your story")
    changes = teller_page.locator("#approval-changes")
    expect(changes.locator("del").first).to_be_visible()
    expect(changes.locator("del")).to_contain_text(["Dr"])
    expect(changes).to_contain_text("Kowalski")
    expect(changes.locator("ins").first).to_contain_text(re.compile("a|doctor"))
    check_axe(teller_page)
    teller_page.get_by_role("button", name="Approve and publish").click()
    expect(teller_page.get_by_role("status")).to_contain_text("Your story is published as you approved it.")
    expect(teller_page.get_by_role("heading", level=1)).to_have_text(TITLE)
    check_axe(teller_page)

    # The public page shows the edited text, never the name.
    visitor.goto(f"/stories/{story_id}")
    expect(visitor.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(visitor.locator("main")).to_contain_text(EDITED)
    expect(visitor.locator("main")).not_to_contain_text("Kowalski")
    check_axe(visitor)

    # Staff can read every saved version and compare them.
    staff.goto(f"/stories/{story_id}/history")
    check_axe(staff)
    staff.get_by_role("button", name="Compare the two versions").click()
    expect(staff.get_by_role("heading", level=1)).to_contain_text("What changed")
    check_axe(staff)
