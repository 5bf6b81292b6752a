"""The library (filters, words, featured first, pages, HTMX), the moderation queue, query
counts that do not grow with rows, and the demo data's storyteller figures."""

from __future__ import annotations

import html
import re
from typing import Any

import sqlalchemy as sa

from portal.core.extensions import db
from portal.grants.models import Phase
from portal.stories import summary
from portal.stories.models import StoryState
from tests import factories
from tests import stories_factories as make
from tests.helpers import queries_for


def _phase() -> Phase:
    from datetime import date

    phase = Phase(
        name="Phase 2 (2019–2020)",
        max_award_pence=1_500_000,
        delivery_months=7,
        pot_pence=6_000_000,
        target_awards=4,
        opens_on=date(2019, 1, 1),
        closes_on=date(2019, 3, 1),
    )
    db.session.add(phase)
    db.session.commit()
    return phase


def test_library_filters_by_theme_value_phase_project_and_words(as_role: Any, users: dict[str, Any]) -> None:
    phase = _phase()
    in_phase = factories.project(title="Hearing Birdsong")
    in_phase.phase_id = phase.id
    other = factories.project(title="Voices in Maternity Care")
    db.session.commit()
    teller = make.storyteller(by=users["staff"])
    make.story(
        teller,
        by=users["staff"],
        title="Justice story",
        themes=("social_justice",),
        values=("diversity",),
        project_id=in_phase.id,
        body="Meadowlark appears here.",
    )
    make.story(
        teller,
        by=users["staff"],
        title="Efficiency story",
        themes=("efficiency",),
        values=("action",),
        project_id=other.id,
    )
    visitor = as_role("anonymous")

    def titles(query: str) -> set[str]:
        page = visitor.get(f"/stories?{query}").get_data(as_text=True)
        return {title for title in ("Justice story", "Efficiency story") if title in page}

    assert titles("") == {"Justice story", "Efficiency story"}
    assert titles("theme=social_justice") == {"Justice story"}
    assert titles("value=action") == {"Efficiency story"}
    assert titles(f"phase={phase.id}") == {"Justice story"}
    assert titles(f"project={other.id}") == {"Efficiency story"}
    assert titles("q=meadowlark") == {"Justice story"}
    assert titles("q=meadowlark&theme=efficiency") == set()
    assert titles("theme=not-a-theme") == {"Justice story", "Efficiency story"}  # unknown filters are ignored
    assert titles("q=100%25") == set() and titles("q=%25%25") == set()  # punctuation finds nothing


def test_htmx_gets_the_results_block_and_plain_get_the_page(as_role: Any, users: dict[str, Any]) -> None:
    teller = make.storyteller(by=users["staff"])
    make.story(teller, by=users["staff"], title="Heron story", themes=("connecting",))
    visitor = as_role("anonymous")
    block = visitor.get("/stories?theme=connecting", headers={"HX-Request": "true"})
    text = block.get_data(as_text=True)
    assert text.lstrip().startswith('<div id="results">') and "Heron story" in text and "<html" not in text
    assert "HX-Request" in block.headers["Vary"]
    full = visitor.get("/stories?theme=connecting").get_data(as_text=True)
    assert "<html" in full and 'method="get"' in full and 'hx-get="/stories"' in full


def test_featured_first_then_newest_and_paginated(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    app.config["PAGE_SIZE"] = 2
    teller = make.storyteller(by=users["staff"])
    make.story(teller, by=users["staff"], title="Oldest featured", featured=True)
    make.story(teller, by=users["staff"], title="Middle story")
    make.story(teller, by=users["staff"], title="Newest story")
    visitor = as_role("anonymous")
    first = visitor.get("/stories").get_data(as_text=True)
    assert first.index("Oldest featured") < first.index("Newest story")
    assert "Middle story" not in first and "Older stories" in first and "3 stories found" in first
    older = re.search(r'<a href="([^"]+)" rel="next">', first)
    assert older is not None and "after=" in older.group(1)
    second = visitor.get(html.unescape(older.group(1))).get_data(as_text=True)
    assert "Middle story" in second and "Newest story" not in second and "Newer stories" in second


def test_staff_feature_a_story_from_moderation(as_role: Any, users: dict[str, Any]) -> None:
    teller = make.storyteller(by=users["staff"])
    make.story(teller, by=users["staff"], title="Plain story")
    lifted = make.story(teller, by=users["staff"], title="Lifted story")
    make.story(teller, by=users["staff"], title="Newest story")
    assert as_role("staff").post(f"/stories/{lifted.id}/feature", data={"featured": "1"}).status_code == 303
    page = as_role("anonymous").get("/stories").get_data(as_text=True)
    assert page.index("Lifted story") < page.index("Newest story") and "Featured" in page


def test_library_query_count_does_not_grow(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    app.config["PAGE_SIZE"] = 100
    project = factories.project(title="A project")
    tellers = [make.storyteller(by=users["staff"]) for _ in range(3)]
    for i in range(5):
        make.story(tellers[i % 3], by=users["staff"], project_id=project.id, themes=("outcomes", "efficiency"))
    visitor = as_role("anonymous")
    with_few = queries_for(visitor, "/stories")
    more = [make.storyteller(by=users["staff"], pseudonym=f"P{i}") for i in range(15)]
    for i in range(45):
        make.story(
            more[i % 15],
            by=users["staff"],
            project_id=project.id,
            anonymous=i % 2 == 0,
            themes=("connecting",),
            values=("equality", "diversity"),
        )
    assert "50 stories found" in visitor.get("/stories").get_data(as_text=True)
    assert queries_for(visitor, "/stories") == with_few


def test_moderation_queue_counts_and_query_count(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    app.config["PAGE_SIZE"] = 100
    staff = as_role("staff")
    for _ in range(5):
        make.story(make.storyteller(by=users["staff"]), by=users["staff"], state=StoryState.SUBMITTED)
    with_few = queries_for(staff, "/stories/moderation")
    for i in range(45):
        state = (StoryState.SUBMITTED, StoryState.IN_REVIEW, StoryState.CHANGES_REQUESTED)[i % 3]
        make.story(make.storyteller(by=users["staff"]), by=users["staff"], state=state, project_id=None)
    make.story(make.storyteller(by=users["staff"]), by=users["staff"])  # published: not waiting
    page = staff.get("/stories/moderation").get_data(as_text=True)
    assert "50 stories waiting" in page
    assert "Waiting for review: <strong>20</strong>" in page and "In review: <strong>15</strong>" in page
    assert queries_for(staff, "/stories/moderation") == with_few
    only = staff.get("/stories/moderation?state=in_review").get_data(as_text=True)
    assert "15 stories waiting" in only


def test_storytellers_list_query_count(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    app.config["PAGE_SIZE"] = 100
    staff = as_role("staff")
    for _ in range(5):
        make.storyteller(by=users["staff"])
    with_few = queries_for(staff, "/stories/storytellers")
    for _ in range(45):
        make.storyteller(by=users["staff"])
    assert queries_for(staff, "/stories/storytellers") == with_few


def test_demo_data_reproduces_the_seed_summary(app: Any) -> None:
    from portal import demo

    demo.seed()
    db.session.commit()
    figures = summary.compute()
    roles = {cell.label: (cell.count, cell.percent) for cell in figures.section("roles").cells}
    assert figures.total == 100
    assert roles["Lived or living experience"] == (55, 55)
    assert roles["Co-production facilitator"] == (62, 62)
    assert roles["Involved as part of their job"] == (55, 55)
    gender = {cell.label: cell.count for cell in figures.section("gender").cells}
    assert gender["Female"] == 67  # two-thirds
    assert {c.label: c.count for c in figures.section("lgbtqia").cells}["Yes"] == 9
    assert {c.label: c.count for c in figures.section("disability").cells}["Yes"] == 25  # a quarter
    assert (figures.age_min, figures.age_max) == (20, 85)
    areas = {cell.label: cell.count for cell in figures.section("lived_experience_areas").cells}
    assert areas == {
        "Addiction": 5,
        "Homelessness": 4,
        "Poverty": 3,
        "Adverse childhood experiences": 2,
        "Prison": 2,
        "Adoption": 1,
        "Care": 1,
        "Psychiatric hospital": 1,
        "Sexual exploitation": 1,
        "Other": 0,
        "Prefer not to say": 0,
    }
    ethnicity = figures.section("ethnicity").cells
    assert ethnicity[0].label == "White British" and ethnicity[0].count > 50  # the majority
    sectors = [cell.count for cell in figures.section("sectors").cells[:3]]
    assert max(sectors) - min(sectors) <= 1  # evenly split
    assert figures.stories_published == 12
    assert all(cell.count >= 2 for cell in figures.stories_by_theme)  # across every theme
    from portal.stories.models import Story

    assert db.session.scalar(sa.select(sa.func.count()).select_from(Story).where(Story.featured)) == 1
    demo.seed()  # a second run adds nothing
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Story)) == 13  # 12 published, 1 waiting
    assert summary.compute().total == 100
    public = summary.public(None, 5, "a-record-key-secret")
    assert public.total == 100 and public.hidden_any  # a multiple of 5 stays as it is
    public_areas = {cell.label: cell.count for cell in public.section("lived_experience_areas").cells}
    assert public_areas["Addiction"] == 5 and public_areas["Other"] is None  # 0 and small look the same
    assert public.section("ethnicity").cells[0].label != "Another ethnicity"  # large groups keep their words


def test_dashboard_cards_render_with_queue_counts(app: Any, users: dict[str, Any]) -> None:
    from flask import render_template_string
    from flask_login import login_user

    for state in (StoryState.SUBMITTED, StoryState.SUBMITTED, StoryState.IN_REVIEW):
        make.story(make.storyteller(by=users["staff"]), by=users["staff"], state=state)
    with app.test_request_context("/dashboard"):
        login_user(users["staff"])
        staff_card = render_template_string('{% include "stories/_dashboard_staff_card.html" %}')
        member_card = render_template_string('{% include "stories/_dashboard_member_card.html" %}')
    assert "Stories to moderate</a>: 3" in staff_card
    assert "Waiting for review</a>: 2" in staff_card and "In review</a>: 1" in staff_card
    assert 'href="/stories/tell"' in member_card


def test_your_stories_query_count(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    app.config["PAGE_SIZE"] = 100
    member = as_role("member")
    teller = make.storyteller(user=users["member"], by=users["member"])
    states = (StoryState.SUBMITTED, StoryState.CHANGES_REQUESTED, StoryState.PUBLISHED)
    for i in range(5):
        make.story(teller, by=users["member"], staff=users["staff"], state=states[i % 3])
    with_few = queries_for(member, "/stories/mine")
    for i in range(45):
        make.story(teller, by=users["member"], staff=users["staff"], state=states[i % 3])
    page = member.get("/stories/mine").get_data(as_text=True)
    assert page.count("Withdraw “") == 50 and page.count(">Change “") == 34
    assert queries_for(member, "/stories/mine") == with_few
