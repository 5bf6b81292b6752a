"""The story library stays light at any size: keyset pages (newer / older) that visit every
story once, in order; cursors nobody made answer 400; a typed "Project" field instead of a menu
of every project (with and without JavaScript); query counts that do not grow; word search
through the site search's bounded ranking; and EXPLAIN output for the benchmark."""

from __future__ import annotations

import base64
import html
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from portal.core import keyset
from portal.core.extensions import db
from portal.stories.models import Scope, Story
from portal.teams.models import Project
from tests import factories
from tests import stories_factories as make
from tests.benchmarks.explain import explain_queries, report
from tests.helpers import queries_for

STORY_LINK = re.compile(r'<h2><a href="/stories/(\d+)">')


def _older(page: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next">', page)
    return html.unescape(found.group(1)) if found else None


def _newer(page: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="prev">', page)
    return html.unescape(found.group(1)) if found else None


def _ids(page: str) -> list[int]:
    return [int(found) for found in STORY_LINK.findall(page)]


def _cursor(raw: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


def _many_projects(count: int, prefix: str = "Quiet pilot") -> None:
    db.session.execute(sa.insert(Project), [{"title": f"{prefix} {n:04d}"} for n in range(count)])
    db.session.commit()


@pytest.fixture
def shelf(users: dict[str, Any]) -> dict[str, Any]:
    """Thirteen published stories of every scope, some featured, some sharing a publication
    moment (so the order's last key, the id, decides), two with the theme "connecting"."""
    teller = make.storyteller(by=users["staff"])
    made: list[Story] = []
    plan = [
        (Scope.PUBLIC, False, ("outcomes",)),
        (Scope.NETWORK, False, ("connecting",)),
        (Scope.RESEARCH, False, ("connecting",)),
        (Scope.PUBLIC, True, ("outcomes",)),
        (Scope.NETWORK, True, ("outcomes",)),
        (Scope.PUBLIC, False, ("connecting",)),
        (Scope.PUBLIC, False, ("outcomes",)),
        (Scope.NETWORK, False, ("outcomes",)),
        (Scope.PUBLIC, False, ("connecting",)),
        (Scope.PUBLIC, False, ("outcomes",)),
        (Scope.NETWORK, False, ("connecting",)),
        (Scope.PUBLIC, True, ("connecting",)),
        (Scope.PUBLIC, False, ("outcomes",)),
    ]
    for number, (scope, featured, themes) in enumerate(plan):
        made.append(
            make.story(
                teller, by=users["staff"], title=f"Shelf story {number}", scope=scope, featured=featured, themes=themes
            )
        )
    same = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    for story in made[4:9]:  # one moment for five of them: ties broken by id
        story.published_at = same
    db.session.commit()
    return {"stories": made, "themes": {story.id: themes for story, (_, _, themes) in zip(made, plan, strict=True)}}


def _expected(shelf: dict[str, Any], scopes: set[Scope], theme: str = "") -> list[int]:
    stories: list[Story] = shelf["stories"]
    shown = [s for s in stories if s.scope in scopes and (not theme or theme in shelf["themes"][s.id])]
    shown.sort(key=lambda s: (s.featured, s.published_at, s.id), reverse=True)
    return [s.id for s in shown]


@pytest.mark.parametrize(("role", "scopes"), [("anonymous", {Scope.PUBLIC}), ("member", {Scope.PUBLIC, Scope.NETWORK})])
@pytest.mark.parametrize("theme", ["", "connecting"])
def test_older_and_newer_visit_every_visible_story_once_in_order(
    app: Any, as_role: Any, shelf: dict[str, Any], role: str, scopes: set[Scope], theme: str
) -> None:
    app.config["PAGE_SIZE"] = 3
    expected = _expected(shelf, scopes, theme)
    client = as_role(role)
    url: str | None = "/stories" + (f"?theme={theme}" if theme else "")
    seen: list[int] = []
    pages: list[str] = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.get_data(as_text=True)
        assert len(_ids(page)) <= 3
        seen += _ids(page)
        pages.append(url)
        if theme:
            assert url == pages[0] or f"theme={theme}" in url  # the filter travels in the links
        url = _older(page)
        assert len(pages) < 10
    assert seen == expected
    assert len(pages) == -(-len(expected) // 3)
    # ... and back up from the last page, each page as it was on the way down.
    back: list[int] = []
    url = _newer(client.get(pages[-1]).get_data(as_text=True))
    while url:
        page = client.get(url).get_data(as_text=True)
        back = _ids(page) + back
        url = _newer(page)
    last = client.get(pages[-1]).get_data(as_text=True)
    assert back + _ids(last) == expected


def test_members_stories_only_for_members_and_research_for_nobody(as_role: Any, shelf: dict[str, Any]) -> None:
    research = {s.id for s in shelf["stories"] if s.scope == Scope.RESEARCH}
    network = {s.id for s in shelf["stories"] if s.scope == Scope.NETWORK}
    visitor = as_role("anonymous").get("/stories").get_data(as_text=True)
    member = as_role("member").get("/stories").get_data(as_text=True)
    assert not (set(_ids(visitor)) & (research | network))
    assert network <= set(_ids(member)) and not (set(_ids(member)) & research)
    assert "8 stories found" in visitor and "12 stories found" in member


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "x" * 500,
        _cursor([1]),
        _cursor({"featured": True}),
        _cursor([True, "2026-03-01T12:00:00", 1]),  # no time zone
        _cursor([True, "yesterday", 1]),
        _cursor([1, "2026-03-01T12:00:00+00:00", 1]),  # a number where yes/no goes
        _cursor([True, "2026-03-01T12:00:00+00:00", -1]),
        _cursor([True, "2026-03-01T12:00:00+00:00", 2**70]),
        _cursor([True, "2026-03-01T12:00:00+00:00", "7"]),
        _cursor([True, "2026-03-01T12:00:00+00:00", 1, 2]),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_cursor_nobody_made_answers_400_with_what_to_do(as_role: Any, shelf: dict[str, Any], cursor: str) -> None:
    for role in ("anonymous", "member"):
        for name in ("after", "before"):
            response = as_role(role).get("/stories", query_string={name: cursor, "theme": "outcomes"})
            assert response.status_code == 400, (role, name, cursor)
            assert "Start again from the first page of stories" in response.get_data(as_text=True)
    searched = as_role("anonymous").get("/stories", query_string={"q": "shelf", "after": _cursor(["x"])})
    assert searched.status_code == 400


def test_a_cursor_is_a_position_so_a_gone_story_does_not_break_the_link(
    app: Any, as_role: Any, shelf: dict[str, Any]
) -> None:
    app.config["PAGE_SIZE"] = 3
    visitor = as_role("anonymous")
    first = visitor.get("/stories").get_data(as_text=True)
    older = _older(first)
    assert older is not None
    last_shown = db.session.get(Story, _ids(first)[-1])
    assert last_shown is not None
    db.session.delete(last_shown)
    db.session.commit()
    again = visitor.get(older)
    assert again.status_code == 200 and len(_ids(again.get_data(as_text=True))) == 3


def test_the_page_does_not_grow_with_projects_and_lists_none_of_them(as_role: Any, users: dict[str, Any]) -> None:
    told = factories.project(title="Hearing Birdsong")
    make.story(make.storyteller(by=users["staff"]), by=users["staff"], title="A told story", project_id=told.id)
    visitor = as_role("anonymous")
    few = len(visitor.get("/stories").get_data(as_text=True))
    _many_projects(600)
    page = visitor.get("/stories").get_data(as_text=True)
    assert "Quiet pilot" not in page  # no menu of every project
    assert abs(len(page) - few) < 200, (len(page), few)
    assert len(page) < 40_000
    assert 'name="project_name"' in page and 'aria-controls="project-choices"' in page


def _river_shelf(users: dict[str, Any]) -> dict[str, Project]:
    teller = make.storyteller(by=users["staff"])
    projects = {
        "voices": factories.project(title="River Voices"),
        "carers": factories.project(title="Riverside Carers"),
        "birdsong": factories.project(title="Hearing Birdsong"),
        "empty": factories.project(title="River With No Stories"),
        "members": factories.project(title="River Members Only"),
    }
    make.story(teller, by=users["staff"], title="Voices story", project_id=projects["voices"].id)
    make.story(teller, by=users["staff"], title="Carers story", project_id=projects["carers"].id)
    make.story(teller, by=users["staff"], title="Birdsong story", project_id=projects["birdsong"].id)
    make.story(teller, by=users["staff"], title="Members story", project_id=projects["members"].id, scope=Scope.NETWORK)
    return projects


def test_typing_a_project_without_javascript_lists_the_matches_as_links(as_role: Any, users: dict[str, Any]) -> None:
    projects = _river_shelf(users)
    visitor = as_role("anonymous")
    page = visitor.get("/stories?project_name=river&theme=outcomes").get_data(as_text=True)
    assert "2 projects with stories match “river”" in page
    assert "River With No Stories" not in page and "River Members Only" not in page  # no stories for visitors
    links = re.findall(r'<li><a href="([^"]+)">(River[^<]*)</a></li>', page)
    assert [title for _, title in links] == ["River Voices", "Riverside Carers"]
    chosen = visitor.get(html.unescape(links[0][0])).get_data(as_text=True)
    assert f"project={projects['voices'].id}" in links[0][0] and "theme=outcomes" in links[0][0]
    assert "Voices story" in chosen and "Carers story" not in chosen and "Birdsong story" not in chosen
    assert "1 story found from River Voices" in chosen
    assert f'<input type="hidden" name="project" value="{projects["voices"].id}">' in chosen
    # One project matches: it is the filter at once. None: the page says so.
    one = visitor.get("/stories?project_name=birdsong").get_data(as_text=True)
    assert "Birdsong story" in one and "Voices story" not in one and "from Hearing Birdsong" in one
    none = visitor.get("/stories?project_name=zebra").get_data(as_text=True)
    assert "No project with stories matches “zebra”" in none
    # Members find the project whose only story is for members.
    member = as_role("member").get("/stories?project_name=river").get_data(as_text=True)
    assert "River Members Only" in member and "3 projects with stories match" in member
    # Wildcards are letters, not patterns.
    assert "No project with stories matches “%”" in visitor.get("/stories?project_name=%25").get_data(as_text=True)


def test_with_htmx_the_matches_come_as_you_type(as_role: Any, users: dict[str, Any]) -> None:
    _river_shelf(users)
    response = as_role("anonymous").get(
        "/stories?project_name=rive&suggest=projects&q=", headers={"HX-Request": "true"}
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in text and "Voices story" not in text
    assert "River Voices" in text and "Riverside Carers" in text and 'id="project-choices-label"' in text
    # A search sent with htmx also refreshes the list under the field (out of band).
    searched = as_role("anonymous").get("/stories?project_name=rive", headers={"HX-Request": "true"})
    assert 'hx-swap-oob="innerHTML:#project-choices"' in searched.get_data(as_text=True)
    full = as_role("anonymous").get("/stories").get_data(as_text=True)
    assert 'id="project-choices" class="project-choices" aria-live="polite"' in full


def test_many_matching_projects_are_capped(as_role: Any, users: dict[str, Any]) -> None:
    teller = make.storyteller(by=users["staff"])
    for n in range(12):
        project = factories.project(title=f"Harbour pilot {n:02d}")
        make.story(teller, by=users["staff"], project_id=project.id)
    page = as_role("anonymous").get("/stories?project_name=harbour").get_data(as_text=True)
    assert "10 of the projects with stories match “harbour” (type more of the name to find others)" in page
    assert page.count("Harbour pilot") == 10 + page.count("· Harbour pilot")


def _fill(users: dict[str, Any], count: int, project_id: int) -> None:
    tellers = [make.storyteller(by=users["staff"]) for _ in range(3)]
    for n in range(count):
        make.story(
            tellers[n % 3],
            by=users["staff"],
            project_id=project_id,
            scope=Scope.NETWORK if n % 3 == 0 else Scope.PUBLIC,
            themes=("connecting", "outcomes"),
            featured=n % 7 == 0,
        )


def test_queries_per_page_do_not_grow_with_stories_or_projects(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    app.config["PAGE_SIZE"] = 25
    project = factories.project(title="Busy pilot")
    _fill(users, 5, project.id)
    urls = ["/stories", "/stories?theme=connecting", f"/stories?project={project.id}", "/stories?q=story"]
    visitor, member = as_role("anonymous"), as_role("member")
    few = {(who, url): queries_for(client, url) for who, client in (("v", visitor), ("m", member)) for url in urls}
    _fill(users, 55, project.id)
    _many_projects(300)
    for (who, url), counted in few.items():
        client = visitor if who == "v" else member
        assert queries_for(client, url) == counted, (who, url)
    # A page further down costs what the first does.
    older = _older(member.get("/stories").get_data(as_text=True))
    assert older is not None and queries_for(member, older) == few[("m", "/stories")]


def test_counts_stop_at_the_cap(app: Any, as_role: Any, users: dict[str, Any], monkeypatch: Any) -> None:
    monkeypatch.setattr(keyset, "COUNT_CAP", 4)
    teller = make.storyteller(by=users["staff"])
    for _ in range(6):
        make.story(teller, by=users["staff"])
    assert "More than 4 stories found" in as_role("anonymous").get("/stories").get_data(as_text=True)


def test_word_search_ranks_like_the_site_search_and_keeps_the_filters(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    teller = make.storyteller(by=users["staff"])
    titled = make.story(teller, by=users["staff"], title="Meadowlark mornings", themes=("connecting",))
    bodied = make.story(
        teller, by=users["staff"], title="Newer story", body="A meadowlark sang.", themes=("connecting",)
    )
    hidden = make.story(
        teller, by=users["staff"], title="Members meadowlark", scope=Scope.NETWORK, themes=("connecting",)
    )
    other_theme = make.story(teller, by=users["staff"], title="Meadowlark outcomes", themes=("outcomes",))
    visitor = as_role("anonymous").get("/stories?q=meadowlark&theme=connecting").get_data(as_text=True)
    # Title matches first (the site search's ranking), though the body match is newer.
    assert _ids(visitor) == [titled.id, bodied.id]
    assert "2 stories found, best matches first" in visitor
    member = as_role("member").get("/stories?q=meadowlark&theme=connecting").get_data(as_text=True)
    assert set(_ids(member)) == {titled.id, bodied.id, hidden.id} and _ids(member)[-1] == bodied.id
    assert other_theme.id not in _ids(member)
    # Pages of a word search are places in the ranking.
    app.config["PAGE_SIZE"] = 1
    client = as_role("member")
    url: str | None = "/stories?q=meadowlark"
    walked: list[int] = []
    while url:
        page = client.get(url).get_data(as_text=True)
        walked += _ids(page)
        url = _older(page)
    assert len(walked) == 4 and len(set(walked)) == 4 and walked[-1] == bodied.id


def test_explain_shows_each_query_and_its_plan(app: Any, users: dict[str, Any]) -> None:
    teller = make.storyteller(by=users["staff"])
    for n in range(4):
        make.story(teller, by=users["staff"], scope=Scope.NETWORK if n % 2 else Scope.PUBLIC)
    factories.make_post(users["member"], title="A post", visibility="members")
    plans = explain_queries(per_page=2)
    labels = {label for label, _, _ in plans}
    assert {"library, visitor, first page", "library, member, the next page (keyset)", "feed, member, first page"} <= (
        labels
    )
    assert all(plan.strip() for _, _, plan in plans)
    if db.engine.dialect.name == "sqlite":
        member_page = [plan for label, sql, plan in plans if label == "library, member, first page" and "LIMIT" in sql]
        assert any("ix_stories_library_members" in plan and "TEMP B-TREE" not in plan for plan in member_page)
        visitor_page = [plan for label, sql, plan in plans if label == "library, visitor, first page"]
        assert any("ix_stories_library_public" in plan for plan in visitor_page)
        feed_page = [plan for label, sql, plan in plans if label == "feed, member, first page" and "LIMIT" in sql]
        assert any("ix_learning_posts_feed_members" in plan and "TEMP B-TREE" not in plan for plan in feed_page)
    assert "EXPLAIN on" in report(per_page=2)
