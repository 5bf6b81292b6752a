"""Gatherings in a real browser: a pilot lead organises a gathering; a member books the only
place and is told in their notifications; a second member, without JavaScript, joins the
waiting list; the first cancels and the second is moved up and told; the organiser sees who
booked and their access needs. Every page visited is checked with axe-core."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import LiveServer, check_axe
from tests.e2e.helpers import sign_in

TITLE = "Co-design workshop: café menus"


def test_organise_book_notify_wait_and_move_up(new_page: Any, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        lead = factories.user(name="Leah Lead", email="leah@example.test")
        factories.project(title="Recovery cafés", lead=lead)
        factories.user(name="Mo Member", email="mo@example.test")
        factories.user(name="Nia Nojs", email="nia@example.test")

    # The pilot lead organises a gathering with one place. A mistake first: the error summary.
    organiser = new_page()
    sign_in(organiser, "leah@example.test", "/gatherings/new")
    organiser.get_by_role("button", name="Publish the gathering").click()
    expect(organiser.locator("[data-error-summary]")).to_be_visible()
    check_axe(organiser)
    organiser.get_by_label("Title").fill(TITLE)
    organiser.get_by_label("What it is for and what will happen").fill("We plan next season's menu together.")
    organiser.get_by_label("Starts").fill("2030-07-01T10:30")
    organiser.get_by_label("Ends").fill("2030-07-01T13:00")
    organiser.get_by_label("Place").fill("Riverside Centre, Room 2")
    organiser.get_by_label("Accessibility").fill("Step-free. Hearing loop. Quiet room next door.")
    organiser.get_by_label("How many people can come").fill("1")
    organiser.get_by_label("Pilot project").select_option(label="Recovery cafés")
    organiser.get_by_role("button", name="Publish the gathering").click()
    expect(organiser.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(organiser.get_by_role("status")).to_contain_text("The gathering is published")
    expect(organiser.get_by_text("1 July 2030 at 10:30")).to_be_visible()  # shown in UK time
    check_axe(organiser)
    gathering_path = re.sub(r"^https?://[^/]+", "", organiser.url).split("#")[0]

    # A member finds it, books the only place with their access needs, and is told.
    member = new_page()
    sign_in(member, "mo@example.test", "/gatherings")
    member.get_by_role("link", name=TITLE).click()
    expect(member.get_by_role("heading", level=1)).to_have_text(TITLE)
    check_axe(member)
    member.get_by_label("Your access needs for this gathering (optional)").fill("Large print papers, please.")
    member.get_by_role("button", name="Book a place").click()
    expect(member.get_by_role("status")).to_contain_text("You have a place.")
    expect(member.get_by_text("You have a place.", exact=True)).to_be_visible()
    check_axe(member)
    member.goto("/notifications")
    expect(member.get_by_role("button", name=f"Your place at {TITLE}")).to_be_visible()
    check_axe(member)

    # A second member, without JavaScript, finds it full and joins the waiting list.
    second = new_page(java_script_enabled=False)
    sign_in(second, "nia@example.test", gathering_path)
    expect(second.get_by_text("Full (1 place): you can join the waiting list")).to_be_visible()
    second.get_by_label("Your access needs for this gathering (optional)").fill("A step-free route, please.")
    second.get_by_role("button", name="Join the waiting list").click()
    expect(second.get_by_text("You are number 1 on the waiting list.")).to_be_visible()
    check_axe(second)

    # The first member cancels; the second is moved up and told.
    member.goto(gathering_path)
    check_axe(member)
    member.get_by_role("button", name="Cancel my place").click()
    expect(member.get_by_role("status")).to_contain_text("Your booking is cancelled.")
    check_axe(member)
    second.goto("/notifications")
    expect(second.get_by_role("button", name=f"A place came free: you are going to {TITLE}")).to_be_visible()
    check_axe(second)
    second.goto(gathering_path)
    expect(second.get_by_text("You have a place.", exact=True)).to_be_visible()
    check_axe(second)

    # The organiser sees who booked; the cancelled member's access needs are gone from the list.
    organiser.get_by_role("link", name=re.compile("People booked")).click()
    expect(organiser.get_by_role("heading", level=1)).to_contain_text("People booked")
    rows = organiser.locator("#results tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Nia Nojs")
    expect(rows.first).to_contain_text("A step-free route, please.")
    expect(organiser.get_by_text("Large print papers")).to_have_count(0)
    check_axe(organiser)


def test_directory_opt_in_filter_and_message(new_page: Any, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        factories.user(name="Rae Recipient", email="rae@example.test", pronouns="she/her")
        factories.user(name="Sol Sender", email="sol@example.test")

    # Rae opts in, choosing her interests and skills and allowing messages.
    rae = new_page()
    sign_in(rae, "rae@example.test", "/people/me")
    rae.get_by_label("List me in the directory").check()
    rae.get_by_label("Name to show").fill("Rae")
    rae.get_by_label("Show my pronouns").check()
    rae.get_by_label("Let other members send me messages through the portal").check()
    rae.get_by_label("Accessibility and inclusivity").check()
    rae.get_by_label("Skills").fill("Easy read, peer support")
    rae.get_by_role("button", name="Save your entry").click()
    expect(rae.get_by_role("status")).to_contain_text("Your directory entry is saved and listed.")
    check_axe(rae)

    # Sol filters the directory (in place, with htmx), opens Rae's entry and sends a message.
    sol = new_page()
    sign_in(sol, "sol@example.test", "/people")
    sol.get_by_label("Interest").select_option(label="Accessibility and inclusivity")
    expect(sol.locator(".result-count")).to_have_text("1 person found")
    expect(sol).to_have_url(re.compile(r"interest=accessibility"))
    check_axe(sol)
    sol.get_by_role("link", name="Rae", exact=True).click()
    expect(sol.get_by_role("heading", level=1)).to_contain_text("Rae")
    check_axe(sol)
    sol.get_by_role("button", name="Send the message").click()
    expect(sol.locator("[data-error-summary]")).to_be_visible()
    check_axe(sol)
    sol.get_by_label("Your message").fill("Hello Rae, could you help me with an easy read leaflet?")
    sol.get_by_role("button", name="Send the message").click()
    expect(sol.get_by_role("status")).to_contain_text("Your message is sent to Rae.")
    check_axe(sol)

    # Rae is told, reads it and replies in the portal; nobody's email address appears.
    rae.goto("/notifications")
    check_axe(rae)
    rae.get_by_role("button", name="Sol Sender sent you a message").click()  # opening marks it read
    expect(rae.get_by_text("could you help me with an easy read leaflet?")).to_be_visible()
    check_axe(rae)
    assert "sol@example.test" not in rae.content()
    rae.get_by_label("Your reply").fill("Yes, happy to help.")
    rae.get_by_role("button", name="Send the reply").click()
    expect(rae.get_by_role("status")).to_contain_text("Your reply is sent.")
    check_axe(rae)
    sol.goto("/people/messages")
    expect(sol.get_by_role("button", name="Yes, happy to help.")).to_be_visible()  # new: opening marks it read
    assert "rae@example.test" not in sol.content()
    check_axe(sol)
