"""Learning posts: writing, editing, deleting, visibility, the feed and its filters."""

from __future__ import annotations

import html
import re
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.core.search.models import SearchDocument
from portal.grants.models import Phase, PhaseState, ProgressReport, ReportState
from portal.learning import posts
from portal.learning.models import LearningPost, PostState
from tests import factories
from tests.factories import make_post
from tests.helpers import count_queries


def test_a_member_writes_a_post_with_tags_and_their_own_project(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    project = factories.project(title="Recovery cafés", lead=users["member"])
    client = as_role("member")
    response = client.post(
        "/learning/new",
        data={
            "title": "Share the agenda early",
            "body": "**Early** papers <script>alert(1)</script> helped.",
            "project_id": str(project.id),
            "values": ["accessibility", "respect"],
            "themes": ["connecting"],
            "visibility": "members",
        },
    )
    assert response.status_code == 303
    post = db.session.scalar(sa.select(LearningPost))
    assert post.project_id == project.id and post.visibility == "members" and post.state == PostState.VISIBLE
    assert sorted(post.value_keys) == ["accessibility", "respect"] and post.theme_keys == ["connecting"]
    page = client.get(f"/learning/{post.id}").get_data(as_text=True)
    assert "<strong>Early</strong>" in page and "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
    assert "Accessibility and inclusivity" in page


def test_bad_input_is_explained_and_changes_nothing(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    theirs = factories.project(title="Someone else's project", lead=factories.user())
    client = as_role("member")
    response = client.post("/learning/new", data={"title": "", "body": "Words", "visibility": "public"})
    assert response.status_code == 422 and "Enter a title." in response.get_data(as_text=True)
    response = client.post(
        "/learning/new", data={"title": "T", "body": "Words", "visibility": "public", "project_id": str(theirs.id)}
    )
    assert response.status_code == 422 and "Choose one of your own projects" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(LearningPost.id))) == 0


def test_the_author_edits_and_the_post_is_marked_edited(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    post = make_post(users["member"])
    other = factories.user()
    with pytest.raises(RuleBroken):
        posts.edit_post(
            post, by=other, title="Hijack", body="x", visibility="public", project_id=None, values=[], themes=[]
        )
    db.session.rollback()
    client = as_role("member")
    response = client.post(
        f"/learning/{post.id}/edit",
        data={"title": "Paying people the same week", "body": "Changed words", "visibility": "public"},
    )
    assert response.status_code == 303
    page = client.get(f"/learning/{post.id}").get_data(as_text=True)
    assert "Paying people the same week" in page and "(edited" in page and "Changed words" in page
    assert as_role("staff").get(f"/learning/{post.id}/edit").status_code == 403


def test_the_author_deletes_and_it_leaves_search(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    post_id = make_post(users["member"], title="Unique zebra crossing").id
    assert db.session.scalar(sa.select(SearchDocument).where(SearchDocument.object_id == post_id)) is not None
    assert as_role("staff").post(f"/learning/{post_id}/delete").status_code == 403
    assert as_role("member").post(f"/learning/{post_id}/delete", data={"confirm": "yes"}).status_code == 303
    assert db.session.get(LearningPost, post_id) is None
    assert db.session.scalar(sa.select(sa.func.count(SearchDocument.id))) == 0


def test_members_only_posts_never_reach_visitors(app: Any, client: Any, as_role: Any, users: dict[str, Any]) -> None:
    make_post(users["member"], title="Open to all about kindness")
    secret = make_post(users["member"], title="Only for members about kindness", visibility="members")
    feed = client.get("/learning/").get_data(as_text=True)
    assert "Open to all" in feed and "Only for members" not in feed
    response = client.get(f"/learning/{secret.id}")
    assert response.status_code == 303 and "/account/sign-in" in response.headers["Location"]
    results = client.get("/search?q=kindness").get_data(as_text=True)
    assert "Open to all" in results and "Only for members" not in results
    member_feed = as_role("staff").get("/learning/").get_data(as_text=True)
    assert "Only for members" in member_feed
    assert "Only for members" in as_role("member").get("/search?q=kindness").get_data(as_text=True)


def test_the_feed_is_newest_first_and_filters(app: Any, client: Any, users: dict[str, Any]) -> None:
    phase = Phase(
        name="Phase 2",
        max_award_pence=1_500_000,
        delivery_months=7,
        pot_pence=6_000_000,
        target_awards=4,
        opens_on=date(2019, 1, 1),
        closes_on=date(2019, 2, 1),
        state=PhaseState.ACTIVE,
    )
    db.session.add(phase)
    db.session.commit()
    lead = factories.user(name="Leah Lead")
    project = factories.project(title="Peer cafés", lead=lead)
    project.phase_id = phase.id
    db.session.commit()
    make_post(users["member"], title="First post", values=["equality"])
    make_post(lead, title="Second post", project_id=project.id, themes=["outcomes"])
    make_post(users["member"], title="Third post")
    feed = client.get("/learning/").get_data(as_text=True)
    assert feed.index("Third post") < feed.index("Second post") < feed.index("First post")
    by_value = client.get("/learning/?tag=value:equality").get_data(as_text=True)
    assert "First post" in by_value and "Second post" not in by_value
    for url in (
        f"/learning/?project={project.id}",
        f"/learning/?phase={phase.id}",
        "/learning/?tag=theme:outcomes",
        f"/learning/?author={lead.id}",
    ):
        page = client.get(url).get_data(as_text=True)
        assert "Second post" in page and "First post" not in page and "Third post" not in page, url


def test_load_more_is_a_link_and_an_htmx_fragment(app: Any, client: Any, users: dict[str, Any]) -> None:
    app.config["PAGE_SIZE"] = 2
    for number in range(5):
        make_post(users["member"], title=f"Post number {number}")
    first = client.get("/learning/").get_data(as_text=True)
    link = re.search(r'<a class="button button-secondary" href="([^"]+)" rel="next"', first)
    assert link is not None and "after=" in link.group(1)
    assert "Load more posts" in first and "Post number 2" not in first
    more = client.get(html.unescape(link.group(1)), headers={"HX-Request": "true"})
    text = more.get_data(as_text=True)
    assert "<html" not in text and "Post number 2" in text and "Post number 1" in text
    again = re.search(r'<a class="button button-secondary" href="([^"]+)" rel="next"', text)
    assert again is not None and again.group(1) != link.group(1) and "Post number 4" not in text


def test_premoderation_holds_a_new_members_first_post(
    app: Any, client: Any, as_role: Any, users: dict[str, Any]
) -> None:
    posts.set_premoderation(on=True, by=users["staff"])
    db.session.commit()
    first = make_post(users["member"], title="My very first post")
    assert first.state == PostState.PENDING
    assert "My very first post" not in client.get("/learning/").get_data(as_text=True)
    assert client.get(f"/learning/{first.id}").status_code == 404
    assert as_role("member").get(f"/learning/{first.id}").status_code == 200  # the author sees it
    assert db.session.scalar(sa.select(sa.func.count(SearchDocument.id))) == 0
    staff_post = make_post(users["staff"], title="Staff are not held")
    assert staff_post.state == PostState.VISIBLE
    queue = as_role("staff").get("/learning/moderation").get_data(as_text=True)
    assert "My very first post" in queue
    assert (
        as_role("staff").post(f"/learning/moderation/posts/{first.id}", data={"decision": "restore"}).status_code == 303
    )
    db.session.refresh(first)
    assert first.state == PostState.VISIBLE
    assert "My very first post" in client.get("/learning/").get_data(as_text=True)
    second = make_post(users["member"], title="Second goes straight up")
    assert second.state == PostState.VISIBLE


def test_an_accepted_final_report_is_published_as_a_post_in_one_step(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    project = factories.project(title="Recovery cafés", lead=users["member"])
    report = ProgressReport(
        project_id=project.id,
        due_on=date(2026, 3, 1),
        is_final=True,
        what_we_learned="Paying people on the day built trust.",
        values=["reciprocity"],
        state=ReportState.ACCEPTED,
    )
    db.session.add(report)
    db.session.commit()
    client = as_role("member")
    url = f"/projects/{project.id}/reports/{report.id}/publish"
    assert client.post(url, data={"publish": "1"}).status_code == 303
    post = db.session.scalar(sa.select(LearningPost).where(LearningPost.source_report_id == report.id))
    assert post is not None and post.visibility == "public" and post.project_id == project.id
    assert post.title == "What we learned: Recovery cafés" and post.value_keys == ["reciprocity"]
    client.post(url, data={"publish": "0"})
    client.post(url, data={"publish": "1"})  # publishing again makes no second post
    assert db.session.scalar(sa.select(sa.func.count(LearningPost.id))) == 1


def test_feed_queries_do_not_grow_with_posts(app: Any, client: Any, users: dict[str, Any]) -> None:
    app.config["PAGE_SIZE"] = 100
    project = factories.project(title="Cafés", lead=users["member"])

    def add(count: int) -> None:
        for number in range(count):
            author = factories.user()
            make_post(
                author, title=f"Post {number}", values=["equality", "respect"], themes=["outcomes"], project_id=None
            )
            db.session.commit()
        make_post(users["member"], title="With project", project_id=project.id)

    def queries() -> int:
        client.get("/learning/")
        with count_queries() as statements:
            assert client.get("/learning/").status_code == 200
        return len(statements)

    add(5)
    few = queries()
    add(45)
    assert "Post 44" in client.get("/learning/").get_data(as_text=True)
    assert queries() == few
