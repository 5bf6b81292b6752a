"""The learning feed stays light at any size: "load more" and "newer posts" are keyset links that
visit every post once, in order, with the filters kept; forged cursors answer 400; the "Project"
filter is a name to type (no menu of every project); query counts do not grow."""

from __future__ import annotations

import base64
import html
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.learning.models import LearningPost
from portal.teams.models import Project
from tests import factories
from tests.factories import make_post
from tests.helpers import queries_for

POST_LINK = re.compile(r'<h2><a href="/learning/(\d+)">')


def _older(page: str) -> str | None:
    found = re.search(r'href="([^"]+)" rel="next"', page)
    return html.unescape(found.group(1)) if found else None


def _newer(page: str) -> str | None:
    found = re.search(r'href="([^"]+)" rel="prev"', page)
    return html.unescape(found.group(1)) if found else None


def _ids(page: str) -> list[int]:
    return [int(found) for found in POST_LINK.findall(page)]


def _cursor(raw: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


@pytest.fixture
def wall(users: dict[str, Any]) -> dict[str, Any]:
    """Eleven visible posts (some for members only, some tagged), two sharing a moment, and one
    hidden post nobody's feed shows."""
    made: list[LearningPost] = []
    tagged: set[int] = set()
    for number in range(11):
        value = "equality" if number % 3 == 0 else "diversity"
        post = make_post(
            users["member"],
            title=f"Wall post {number}",
            visibility="members" if number % 4 == 1 else "public",
            values=[value],
        )
        made.append(post)
        if value == "equality":
            tagged.add(post.id)
    same = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    for post in made[3:7]:
        post.created_at = same
    hidden = make_post(users["member"], title="Hidden wall post")
    hidden.state = "hidden"  # type: ignore[assignment]
    db.session.commit()
    return {"posts": made, "tagged": tagged}


def _expected(wall: dict[str, Any], member: bool, tag: str) -> list[int]:
    posts: list[LearningPost] = wall["posts"]
    shown = [p for p in posts if (member or p.visibility.value == "public") and (not tag or p.id in wall["tagged"])]
    shown.sort(key=lambda p: (p.created_at, p.id), reverse=True)
    return [p.id for p in shown]


@pytest.mark.parametrize("role", ["anonymous", "member"])
@pytest.mark.parametrize("tag", ["", "value:equality"])
def test_load_more_visits_every_visible_post_once_in_order(
    app: Any, as_role: Any, wall: dict[str, Any], role: str, tag: str
) -> None:
    app.config["PAGE_SIZE"] = 3
    expected = _expected(wall, role == "member", tag)
    client = as_role(role)
    url: str | None = "/learning/" + (f"?tag={tag}" if tag else "")
    seen: list[int] = []
    pages: list[str] = []
    while url:
        page = client.get(url, headers={"HX-Request": "true"} if pages else {}).get_data(as_text=True)
        seen += _ids(page)
        pages.append(url)
        assert not tag or url == pages[0] or "tag=value:equality" in url
        url = _older(page)
        assert len(pages) < 10
    assert seen == expected
    # Without JavaScript, a later page links back to newer posts, and each page is the same.
    back: list[int] = []
    url = _newer(client.get(pages[-1]).get_data(as_text=True)) if len(pages) > 1 else None
    while url:
        page = client.get(url).get_data(as_text=True)
        back = _ids(page) + back
        url = _newer(page)
    if len(pages) > 1:
        assert back + _ids(client.get(pages[-1]).get_data(as_text=True)) == expected
    assert "Hidden wall post" not in client.get("/learning/").get_data(as_text=True)


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "y" * 400,
        _cursor([1, 2]),
        _cursor(["2026-02-01T09:00:00+00:00"]),
        _cursor(["2026-02-01T09:00:00", 4]),
        _cursor(["2026-02-01T09:00:00+00:00", "4"]),
        _cursor(["2026-02-01T09:00:00+00:00", True]),
        _cursor([None, 4]),
    ],
)
def test_a_forged_cursor_answers_400(as_role: Any, wall: dict[str, Any], cursor: str) -> None:
    for role in ("anonymous", "member"):
        for name in ("after", "before"):
            for headers in ({}, {"HX-Request": "true"}):
                response = as_role(role).get("/learning/", query_string={name: cursor}, headers=headers)
                assert response.status_code == 400, (role, name, cursor)
                assert "Start again from the newest posts" in response.get_data(as_text=True)


def test_the_feed_does_not_grow_with_projects(as_role: Any, users: dict[str, Any]) -> None:
    lead = factories.user(email="lead@example.org")
    project = factories.project(title="Hearing Birdsong", lead=lead)
    make_post(lead, title="With a project", project_id=project.id)
    visitor = as_role("anonymous")
    few = len(visitor.get("/learning/").get_data(as_text=True))
    db.session.execute(sa.insert(Project), [{"title": f"Quiet pilot {n:04d}"} for n in range(600)])
    db.session.commit()
    page = visitor.get("/learning/").get_data(as_text=True)
    assert "Quiet pilot" not in page and abs(len(page) - few) < 200
    assert 'name="project_name"' in page


def test_typing_a_project_finds_those_with_posts(as_role: Any, users: dict[str, Any]) -> None:
    lead = factories.user(email="lead@example.org")
    voices = factories.project(title="River Voices", lead=lead)
    carers = factories.project(title="Riverside Carers", lead=lead)
    factories.project(title="River Without Posts", lead=lead)
    make_post(lead, title="Voices post", project_id=voices.id)
    make_post(lead, title="Carers post", project_id=carers.id, visibility="members")
    visitor = as_role("anonymous")
    one = visitor.get("/learning/?project_name=river&tag=").get_data(as_text=True)
    assert "Voices post" in one and "from River Voices" in one  # only one has posts a visitor sees
    member = as_role("member").get("/learning/?project_name=river").get_data(as_text=True)
    assert "2 projects with posts match “river”" in member and "River Without Posts" not in member
    links = re.findall(r'<li><a href="([^"]+)">(River[^<]*)</a></li>', member)
    assert [title for _, title in links] == ["River Voices", "Riverside Carers"]
    chosen = as_role("member").get(html.unescape(links[1][0])).get_data(as_text=True)
    assert "Carers post" in chosen and "Voices post" not in chosen
    suggested = as_role("member").get("/learning/?project_name=rivers&suggest=projects", headers={"HX-Request": "true"})
    text = suggested.get_data(as_text=True)
    assert "<html" not in text and "Riverside Carers" in text and "Carers post" not in text
    assert "No project with posts matches “zebra”" in visitor.get("/learning/?project_name=zebra").get_data(
        as_text=True
    )
    # A project id from elsewhere (a project page's link) still filters.
    assert "Voices post" in visitor.get(f"/learning/?project={voices.id}").get_data(as_text=True)


def test_feed_queries_do_not_grow_with_posts(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    app.config["PAGE_SIZE"] = 25
    for number in range(5):
        make_post(users["member"], title=f"Early {number}", visibility="members" if number % 2 else "public")
    visitor, member = as_role("anonymous"), as_role("member")
    urls = ["/learning/", "/learning/?tag=value:equality"]
    few = {(who, url): queries_for(c, url) for who, c in (("v", visitor), ("m", member)) for url in urls}
    for number in range(55):
        make_post(users["member"], title=f"Later {number}", visibility="members" if number % 2 else "public")
    db.session.execute(sa.insert(Project), [{"title": f"Quiet pilot {n:04d}"} for n in range(300)])
    db.session.commit()
    for (who, url), counted in few.items():
        assert queries_for(visitor if who == "v" else member, url) == counted, (who, url)
    older = _older(member.get("/learning/").get_data(as_text=True))
    assert older is not None and queries_for(member, older) == few[("m", "/learning/")]
