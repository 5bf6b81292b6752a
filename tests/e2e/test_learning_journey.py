"""Shared learning in a real browser, axe-checked on every page: a member posts, another
comments and says it resonates (in place, with htmx), a third flags the comment, and staff
review it. The same "this resonates" works without JavaScript."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from playwright.sync_api import expect

from portal.core.extensions import db
from portal.learning.models import Comment, Flag, LearningPost
from tests import factories
from tests.e2e.conftest import LiveServer, check_axe
from tests.e2e.helpers import sign_in


def test_post_comment_validate_flag_and_review(new_page: Any, live_server: LiveServer) -> None:
    live_server.app.config["FLAG_THRESHOLD"] = 1
    with live_server.app.app_context():
        factories.user(name="Priya Poster", email="priya@example.test")
        factories.user(name="Colin Commenter", email="colin@example.test")
        factories.user(name="Fay Flagger", email="fay@example.test")
        factories.user(role="staff", name="Sam Staff", email="sam@example.test")

    # A member writes a post; a mistake first, explained next to the field.
    poster = new_page()
    sign_in(poster, "priya@example.test", "/learning/new")
    poster.get_by_label("What did you learn?").fill("Sending papers **early** helped everyone decide.")
    poster.get_by_role("button", name="Post it").click()
    expect(poster.locator("[data-error-summary]")).to_contain_text("Enter a title.")
    check_axe(poster)
    poster.get_by_label("Title").fill("Send papers a week early")
    poster.get_by_label("Accessibility and inclusivity").check()
    poster.get_by_role("button", name="Post it").click()
    expect(poster.get_by_role("heading", level=1)).to_have_text("Send papers a week early")
    expect(poster.locator(".post-body strong")).to_have_text("early")
    check_axe(poster)
    post_path = re.sub(r"^https?://[^/]+", "", poster.url)

    # Another member comments, and says the post resonates: htmx swaps the count in place.
    commenter = new_page()
    sign_in(commenter, "colin@example.test", "/learning/")
    commenter.get_by_role("link", name="Send papers a week early").click()
    expect(commenter).to_have_url(re.compile(re.escape(post_path) + r"$"))
    check_axe(commenter)
    commenter.get_by_label("Your comment").fill("Large print too, please.")
    commenter.get_by_role("button", name="Add your comment").click()
    expect(commenter.locator(".comment-body")).to_have_text("Large print too, please.")
    check_axe(commenter)
    url_before = commenter.url
    commenter.locator(f"#validate-post-{post_path.rsplit('/', 1)[1]}").get_by_role(
        "button", name="This resonates"
    ).click()
    expect(commenter.get_by_text("1 person says this resonates, including you.")).to_be_visible()
    assert commenter.url == url_before
    expect(commenter.get_by_text("You said this resonates.")).to_have_count(0)  # swapped in place, no reload
    check_axe(commenter)

    # A third member flags the comment (threshold 1 here, so it is hidden at once).
    flagger = new_page()
    sign_in(flagger, "fay@example.test", post_path)
    flagger.get_by_role("link", name="Flag this comment by Colin Commenter").click()
    check_axe(flagger)
    flagger.get_by_label("Spam or advertising").check()
    flagger.get_by_role("button", name="Send to the moderators").click()
    expect(flagger.get_by_role("status").first).to_contain_text("A moderator will look at it.")
    expect(flagger.get_by_text("This comment is hidden while a moderator looks at it.")).to_be_visible()
    check_axe(flagger)

    # Staff review: restore it, and the commenter is told.
    staff = new_page()
    sign_in(staff, "sam@example.test", "/learning/moderation")
    expect(staff.get_by_text("Spam or advertising")).to_be_visible()
    with live_server.app.app_context():
        comment_id = db.session.scalar(sa.select(Comment.id))
    staff.locator(f"#review-comment-{comment_id}").get_by_role("button", name=re.compile("^Restore")).click()
    expect(staff.get_by_text("No comments need a decision.")).to_be_visible()
    check_axe(staff)
    with live_server.app.app_context():
        assert db.session.scalar(sa.select(Flag.outcome)) == "dismissed"

    commenter.goto("/notifications")
    expect(commenter.get_by_role("button", name="A moderator restored your comment")).to_be_visible()
    check_axe(commenter)
    poster.goto("/notifications")
    expect(poster.get_by_role("button", name=re.compile("Colin Commenter commented"))).to_be_visible()
    check_axe(poster)


def test_this_resonates_without_javascript(new_page: Any, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        from portal.learning import posts

        author = factories.user(name="Ann Author", email="ann@example.test")
        factories.user(name="Nora Noscript", email="nora@example.test")
        post = posts.create_post(author=author, title="Plain forms work", body="Yes.", visibility="members")
        db.session.commit()
        post_id = post.id
    page = new_page(java_script_enabled=False)
    sign_in(page, "nora@example.test", "/learning/")
    page.get_by_role("link", name="Plain forms work").click()
    check_axe(page)
    page.get_by_role("button", name="This resonates").click()
    expect(page.get_by_text("1 person says this resonates, including you.")).to_be_visible()
    check_axe(page)
    page.get_by_role("link", name="Who says this resonates").click()
    expect(page.get_by_role("listitem").filter(has_text="Nora Noscript")).to_be_visible()
    check_axe(page)
    with live_server.app.app_context():
        assert db.session.get(LearningPost, post_id) is not None


def test_load_more_search_and_notification_settings(new_page: Any, live_server: LiveServer) -> None:
    live_server.app.config["PAGE_SIZE"] = 2
    with live_server.app.app_context():
        from portal.learning import posts

        author = factories.user(name="Ann Author", email="ann@example.test")
        for number in range(3):
            posts.create_post(
                author=author, title=f"Lantern walk {number}", body="We lit the way.", visibility="public"
            )
        posts.create_post(author=author, title="Members lantern", body="Hidden from visitors.", visibility="members")
        db.session.commit()

    page = new_page()
    page.goto("/learning/")
    check_axe(page)
    expect(page.locator("#posts > li.card")).to_have_count(2)
    page.get_by_role("link", name=re.compile("^Load more posts")).click()
    expect(page.locator("#posts > li.card")).to_have_count(3)  # appended in place by htmx
    expect(page.get_by_role("link", name=re.compile("^Load more posts"))).to_have_count(0)
    assert page.url.endswith("/learning/")
    check_axe(page)

    page.goto("/search?q=lantern")
    expect(page.get_by_role("status")).to_contain_text("3 results")  # the members-only post is not for visitors
    check_axe(page)

    sign_in(page, "ann@example.test", "/notifications/settings")
    page.get_by_label("Weekly, on Monday mornings").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_label("Weekly, on Monday mornings")).to_be_checked()
    check_axe(page)
