"""Two people editing one thing, in a real browser, every page checked with axe-core: an author
changes a learning post in two windows and the second save shows both versions with the text
still in the form (with JavaScript and without); a post taken down while its edit form is open
says why and shows back what was typed; a directory entry saved from an older tab is refused."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from portal.accounts.models import User
from portal.core.extensions import db
from portal.learning import moderation, posts
from tests import factories
from tests.e2e.conftest import LiveServer, check_axe
from tests.e2e.helpers import sign_in


def test_an_author_edits_one_post_in_two_windows(new_page: Any, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        author = factories.user(name="Priya Poster", email="priya@example.test")
        staff_id = factories.user(role="staff", name="Sam Staff", email="sam@example.test").id
        post_id = factories.make_post(author, title="Send papers early", body="A week before helped.").id
    edit_path = f"/learning/{post_id}/edit"

    first, second = new_page(), new_page(java_script_enabled=False)
    sign_in(first, "priya@example.test", edit_path)
    sign_in(second, "priya@example.test", edit_path)

    first.get_by_label("What did you learn?").fill("Ten days before helped more.")
    first.get_by_role("button", name="Save changes").click()
    expect(first.get_by_role("status").first).to_contain_text("Your changes are saved.")
    check_axe(first)

    second.get_by_label("What did you learn?").fill("Two weeks before helped most.")
    second.get_by_role("button", name="Save changes").click()
    panel = second.locator("#edit-conflict")
    expect(panel).to_contain_text("changed by you, in another window or tab")
    expect(panel).to_contain_text("Ten days before helped more.")
    expect(panel).to_contain_text("Two weeks before helped most.")
    expect(second.get_by_label("What did you learn?")).to_have_value("Two weeks before helped most.")
    check_axe(second)
    second.get_by_role("button", name="Save changes").click()  # merged: now it goes through
    expect(second.get_by_role("status").first).to_contain_text("Your changes are saved.")
    expect(second.locator(".post-body")).to_contain_text("Two weeks before helped most.")
    check_axe(second)

    # Taken down while the form is open: the save says why and shows back the words typed.
    first.goto(edit_path)
    check_axe(first)
    with live_server.app.app_context():
        found = posts.load_post(post_id)
        assert found is not None
        moderation.decide(
            found, by=db.session.get_one(User, staff_id), decision="hide", reason="It names a participant."
        )
        db.session.commit()
    first.get_by_label("What did you learn?").fill("Words I want to keep.")
    first.get_by_role("button", name="Save changes").click()
    expect(first.get_by_role("alert")).to_contain_text("took this post down")
    expect(first.get_by_text("It names a participant.")).to_be_visible()
    expect(first.get_by_text("Words I want to keep.")).to_be_visible()
    check_axe(first)


def test_a_directory_entry_saved_from_an_older_tab_is_refused(new_page: Any, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        factories.user(name="Mo Member", email="mo@example.test")

    first, second = new_page(), new_page()
    sign_in(first, "mo@example.test", "/people/me")
    first.get_by_label("Name to show").fill("Mo")
    first.get_by_label("Skills").fill("Co-design, peer support")
    first.get_by_role("button", name="Save your entry").click()
    expect(first.get_by_role("status").first).to_contain_text("Your directory entry is saved.")
    expect(first.get_by_label("Skills")).to_have_value("Co-design, peer support")  # the skills, as typed
    check_axe(first)

    sign_in(second, "mo@example.test", "/people/me")
    first.get_by_label("Skills").fill("Co-design, peer support, drawing")
    first.get_by_role("button", name="Save your entry").click()
    expect(first.get_by_role("status").first).to_contain_text("Your directory entry is saved.")
    check_axe(first)

    second.get_by_label("Name to show").fill("Mo M")
    second.get_by_role("button", name="Save your entry").click()
    panel = second.locator("#edit-conflict")
    expect(panel).to_contain_text("changed by you, in another window or tab")
    expect(panel).to_contain_text("Co-design, drawing, peer support")
    expect(second.get_by_label("Name to show")).to_have_value("Mo M")
    check_axe(second)
