"""The storytelling journey in a real browser, every page checked with axe-core: a member tells
a story with consent choices, staff edit out a name and publish it, a visitor finds it by theme,
the member withdraws it, and it is gone."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from portal.core.extensions import db
from portal.stories.consent import DemographicAnswers, record_demographics
from portal.stories.models import ConsentMethod
from portal.stories.telling import create_storyteller
from tests import factories
from tests.e2e.conftest import LiveServer, check_axe
from tests.e2e.helpers import sign_in

TITLE = "Our recovery café"


def test_tell_moderate_find_withdraw(new_page: Any, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        factories.user(name="Mo Member", email="mo@example.test")
        factories.user(role="staff", name="Sam Staff", email="sam@example.test")

    # A member tells a story, choosing who may read it and to keep their name off it.
    member = new_page()
    sign_in(member, "mo@example.test", "/stories/tell")
    member.get_by_role("button", name="Send my story").click()  # nothing filled in: errors first
    expect(member.locator("[data-error-summary]")).to_contain_text("Give your story a title.")
    check_axe(member)
    member.get_by_label("Title").fill(TITLE)
    member.get_by_label("Summary").fill("How we chose the opening hours together.")
    member.get_by_label("Your story").fill("I told Dr Nadia Kowalski at the café that evenings mattered.")
    member.get_by_label("Connecting us as humans, working towards shared goals").check()
    member.get_by_label("Mutual respect and trust").check()
    member.get_by_label("Everyone: anyone can read it on this site").check()
    member.get_by_label("Keep my name off it", exact=False).check()
    member.get_by_label("Pseudonym (optional)").fill("Kestrel")
    member.get_by_label("I agree to my story being used", exact=False).check()
    member.get_by_role("button", name="Send my story").click()
    expect(member).to_have_url(re.compile(r"/stories/mine$"))
    expect(member.get_by_role("status")).to_contain_text("Your story has been sent")
    expect(member.get_by_text("Waiting for review")).to_be_visible()
    check_axe(member)

    # Staff review it, edit out the doctor's name (the original is kept), and publish it.
    staff = new_page()
    sign_in(staff, "sam@example.test", "/stories/moderation")
    staff.get_by_role("link", name=TITLE).click()
    expect(staff.get_by_role("heading", level=1)).to_have_text(TITLE)
    check_axe(staff)
    staff.get_by_role("button", name="Start the review").click()
    expect(staff.get_by_role("status")).to_contain_text("The review has started")
    check_axe(staff)
    staff.get_by_label("Story", exact=True).fill("I told a doctor at the café that evenings mattered.")
    staff.get_by_role("button", name="Save edits", exact=True).click()
    expect(staff.get_by_role("heading", name="What staff changed")).to_be_visible()
    expect(staff.locator("#changes p.diff del")).to_contain_text("Dr Nadia Kowalski")
    check_axe(staff)
    staff.get_by_role("button", name="Save edits and publish").click()
    expect(staff.get_by_role("status")).to_contain_text("the story is published.")
    check_axe(staff)

    # A visitor finds it by theme: the filter updates the results in place.
    visitor = new_page()
    visitor.goto("/stories")
    check_axe(visitor)
    visitor.wait_for_function("() => window.htmx !== undefined")
    visitor.evaluate("() => { window.__samePage = true; }")
    visitor.get_by_label("Theme").select_option("connecting")
    expect(visitor).to_have_url(re.compile(r"/stories\?.*theme=connecting"))
    expect(visitor.locator("#results [role=status]")).to_have_text("1 story found")
    assert visitor.evaluate("() => window.__samePage === true"), "the filter reloaded the whole page"
    check_axe(visitor)
    visitor.get_by_role("link", name=TITLE).click()
    expect(visitor.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(visitor.get_by_text("By Kestrel")).to_be_visible()  # the pseudonym, never the name
    expect(visitor.locator("main")).not_to_contain_text("Mo Member")
    expect(visitor.locator("main")).not_to_contain_text("Kowalski")
    story_url = visitor.url
    check_axe(visitor)
    assert TITLE in visitor.request.get("/search?q=recovery").text()  # the shared search finds it

    # The member withdraws it, after a page that says what that does.
    member.goto("/stories/mine")
    check_axe(member)
    member.get_by_role("link", name=f"Withdraw “{TITLE}”").click()
    expect(member.get_by_role("heading", level=1)).to_have_text(f"Withdraw “{TITLE}”?")
    check_axe(member)
    member.get_by_role("button", name="Yes, withdraw and delete it").click()
    expect(member.get_by_role("status")).to_contain_text("The story has been withdrawn")
    expect(member.locator("main")).not_to_contain_text(TITLE)
    check_axe(member)

    # It is gone: from the library, its page and the search.
    visitor.goto("/stories?theme=connecting")
    expect(visitor.locator("#results [role=status]")).to_have_text("0 stories found")
    check_axe(visitor)
    # (Asked for without navigating: a 404 page load would log a console error.)
    assert visitor.request.get(story_url).status == 404
    assert TITLE not in visitor.request.get("/search?q=recovery").text()


def test_library_filters_work_without_javascript(new_page: Any, live_server: LiveServer) -> None:
    from portal.stories.models import Scope
    from tests import stories_factories as make

    with live_server.app.app_context():
        staff = factories.user(role="staff")
        teller = make.storyteller(by=staff, name="Named Teller")
        make.story(teller, by=staff, title="A story of justice", themes=("social_justice",), scope=Scope.PUBLIC)
        make.story(teller, by=staff, title="A story of efficiency", themes=("efficiency",))
        small = factories.project(title="A small pilot")  # too few storytellers for figures of its own
        for i in range(17):  # enough for public figures: rounded counts, "fewer than 5" cells
            record_demographics(
                create_storyteller(display_name=f"Counted {i}", by=staff, project_id=small.id if i < 3 else None),
                DemographicAnswers(gender="female" if i < 12 else "male", ethnicity="Cornish" if i == 0 else "Welsh"),
                by=staff,
                method=ConsentMethod.WRITTEN,
            )
        db.session.commit()
    page = new_page(java_script_enabled=False)
    page.goto("/stories")
    check_axe(page)
    page.get_by_label("Theme").select_option("efficiency")
    page.get_by_role("button", name="Find stories").click()
    expect(page).to_have_url(re.compile(r"/stories\?.*theme=efficiency"))
    expect(page.locator("#results")).to_contain_text("A story of efficiency")
    expect(page.locator("#results")).not_to_contain_text("A story of justice")
    check_axe(page)
    page.goto("/stories/summary")
    expect(page.get_by_role("heading", level=1)).to_have_text("Our storytellers")
    expect(page.get_by_role("note")).to_contain_text("rounded to a multiple of 5")
    expect(page.locator("#results")).to_contain_text("Fewer than 5")
    expect(page.locator("#results")).to_contain_text("Another ethnicity")
    expect(page.locator("#results")).not_to_contain_text("Cornish")
    expect(page.get_by_text("1 project has fewer")).to_be_visible()
    check_axe(page)
    page.set_viewport_size({"width": 390, "height": 844})
    check_axe(page)


def test_staff_storyteller_pages_pass_axe(new_page: Any, live_server: LiveServer, tmp_path: Any) -> None:
    from tests import stories_factories as make

    with live_server.app.app_context():
        staff_user = factories.user(role="staff", name="Sam Staff", email="sam@example.test")
        teller = make.storyteller(by=staff_user, name="Interviewed Iris", pseudonym="Wren")
        teller_id = teller.id
        make.story(teller, by=staff_user, title="Iris's story", themes=("outcomes",))
    page = new_page()
    sign_in(page, "sam@example.test", "/stories/storytellers")
    page.get_by_role("link", name="Interviewed Iris").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Interviewed Iris")
    check_axe(page)
    page.get_by_label("Female").check()
    page.get_by_label("Age in years (optional)").fill("51")
    page.get_by_role("button", name="Save").click()  # answers without consent: refused
    expect(page.locator("[data-error-summary]")).to_contain_text("Without agreement they are not stored")
    check_axe(page)
    page.get_by_label("Store these answers", exact=False).check()
    page.get_by_role("button", name="Save").click()  # consent, but not how it was given: refused
    expect(page.locator("[data-error-summary]")).to_contain_text("Say how the storyteller gave their consent")
    check_axe(page)
    page.get_by_label("In writing (signed form)").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("The storyteller record has been saved.")
    expect(page.get_by_text("(in writing (signed form))", exact=False)).to_be_visible()
    check_axe(page)
    page.get_by_role("link", name="Enter a story for Interviewed Iris").click()
    expect(page).to_have_url(re.compile(rf"/stories/storytellers/{teller_id}/tell$"))
    check_axe(page)

    page.goto("/stories/storytellers/import")
    check_axe(page)
    bad = tmp_path / "people.csv"
    bad.write_text(
        "name,pseudonym,email,roles,sectors,gender,lgbtqia,disability,ethnicity,age,lived_experience,"
        "demographics_consent,consent_method\nAda,,,carer,,,,,,,,yes,in writing\n",
        encoding="utf-8",
    )
    page.get_by_label("CSV file").set_input_files(str(bad))
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("alert")).to_contain_text("Row 2, column roles")
    check_axe(page)

    page.goto("/stories/summary")
    expect(page.get_by_text("Exact figures")).to_be_visible()
    check_axe(page)
    page.goto("/stories/moderation")
    check_axe(page)
