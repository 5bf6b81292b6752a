"""Comments with replies, "this resonates", flags, auto-hiding and the staff moderation queue."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.core.outbox import OutboxMessage
from portal.core.search.models import SearchDocument
from portal.learning import comments, moderation, validations
from portal.learning.models import Comment, CommentState, Flag, PostState, Validation
from portal.notifications.models import Notification
from tests import factories
from tests.factories import make_post
from tests.helpers import count_queries


def _notes(user: Any, kind: str) -> list[Notification]:
    return list(
        db.session.scalars(
            sa.select(Notification).where(Notification.recipient_id == user.id, Notification.kind == kind)
        )
    )


def test_comments_and_one_level_of_replies_notify_the_right_people(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    post = make_post(users["member"])
    commenter = as_role("staff")
    assert commenter.post(f"/learning/{post.id}/comments", data={"body": "Same for us."}).status_code == 303
    top = db.session.scalar(sa.select(Comment))
    assert [n.subject for n in _notes(users["member"], "comment")] == [f'Staff Person commented on "{post.title}"']
    replier = as_role("finance")
    assert (
        replier.post(f"/learning/{post.id}/comments", data={"body": "And us", "parent_id": str(top.id)}).status_code
        == 303
    )
    reply = db.session.scalar(sa.select(Comment).where(Comment.parent_id == top.id))
    assert len(_notes(users["staff"], "reply")) == 1
    # a reply to a reply joins the same thread: one level only
    replier.post(f"/learning/{post.id}/comments", data={"body": "Deeper", "parent_id": str(reply.id)})
    deeper = db.session.scalar(sa.select(Comment).where(Comment.body == "Deeper"))
    assert deeper.parent_id == top.id
    empty = commenter.post(f"/learning/{post.id}/comments", data={"body": "  "})
    assert empty.status_code == 422 and "Write a comment." in empty.get_data(as_text=True)


def test_a_deleted_comment_shows_as_deleted_and_its_replies_stay(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    post = make_post(users["staff"])
    top = comments.add_comment(post, by=users["member"], body="My first thought")
    comments.add_comment(post, by=users["finance"], body="A reply that stays", parent_id=top.id)
    db.session.commit()
    assert as_role("finance").post(f"/learning/comments/{top.id}/delete").status_code == 403
    member = as_role("member")
    assert member.post(f"/learning/comments/{top.id}/edit", data={"body": "Second thought"}).status_code == 303
    page = member.get(f"/learning/{post.id}").get_data(as_text=True)
    assert "Second thought" in page and "(edited)" in page
    assert member.post(f"/learning/comments/{top.id}/delete").status_code == 303
    page = member.get(f"/learning/{post.id}").get_data(as_text=True)
    assert "Comment deleted." in page and "Second thought" not in page and "A reply that stays" in page
    db.session.refresh(top)
    assert top.body == "" and top.deleted_at is not None


def test_long_threads_are_paged(app: Any, client: Any, users: dict[str, Any]) -> None:
    post = make_post(users["staff"])
    for number in range(25):
        comments.add_comment(post, by=users["member"], body=f"Comment number {number:02d}")
    db.session.commit()
    first = client.get(f"/learning/{post.id}").get_data(as_text=True)
    assert "Comment number 19" in first and "Comment number 20" not in first and "Page 1 of 2" in first
    second = client.get(f"/learning/{post.id}?page=2").get_data(as_text=True)
    assert "Comment number 24" in second and "Comment number 00" not in second


def test_validation_is_once_per_member_and_toggles_off(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    post = make_post(users["member"])
    staff = as_role("staff")
    for _ in range(2):  # a double submit
        assert staff.post(f"/learning/{post.id}/validate", data={"on": "1"}).status_code == 303
    assert validations.count(post) == 1
    assert len(_notes(users["member"], "validation")) == 1
    other_tab = as_role("staff")
    other_tab.post(f"/learning/{post.id}/validate", data={"on": "1"})
    assert validations.count(post) == 1
    names = staff.get(f"/learning/{post.id}/validations").get_data(as_text=True)
    assert "Staff Person" in names
    assert staff.post(f"/learning/{post.id}/validate", data={"on": "0"}).status_code == 303
    assert validations.count(post) == 0
    # the author cannot validate their own post
    assert as_role("member").post(f"/learning/{post.id}/validate", data={"on": "1"}).status_code == 403


def test_two_simultaneous_validations_give_one(app: Any, users: dict[str, Any], monkeypatch: Any) -> None:
    """The race the unique constraint settles: the check passed in both, only one row lands."""
    post = make_post(users["member"])
    db.session.add(Validation(user_id=users["staff"].id, post_id=post.id))
    db.session.commit()
    # the other tab's check ran before this one's insert committed
    monkeypatch.setattr(validations, "has_validated", lambda user, target: False)
    assert validations.set_validation(post, by=users["staff"], on=True) is True
    db.session.commit()  # the caller's transaction survived the refused insert
    assert validations.count(post) == 1


def test_validation_toggles_in_place_with_htmx(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    post = make_post(users["member"])
    comment = comments.add_comment(post, by=users["member"], body="Comment")
    db.session.commit()
    response = as_role("staff").post(
        f"/learning/comments/{comment.id}/validate", data={"on": "1"}, headers={"HX-Request": "true"}
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in text
    assert f'id="validate-comment-{comment.id}"' in text and "1 person says this resonates, including you" in text
    assert 'aria-pressed="true"' in text and 'name="on" value="0"' in text


def _flag_by(count: int, target: Any) -> list[Any]:
    people = [factories.user() for _ in range(count)]
    for person in people:
        moderation.flag(target, by=person, reason="offensive")
    db.session.commit()
    return people


def test_flags_hide_at_the_threshold_then_staff_restore_and_the_author_is_told(
    app: Any, client: Any, as_role: Any, users: dict[str, Any]
) -> None:
    post = make_post(users["member"], title="Hedgehog stories")
    _flag_by(2, post)
    assert post.state == PostState.VISIBLE
    flagger = _flag_by(1, post)[0]
    assert moderation.flag(post, by=flagger, reason="spam") is None  # one flag per member
    db.session.commit()
    db.session.refresh(post)
    assert post.state == PostState.HIDDEN
    assert client.get(f"/learning/{post.id}").status_code == 404
    assert "Hedgehog" not in client.get("/learning/").get_data(as_text=True)
    assert db.session.scalar(sa.select(SearchDocument).where(SearchDocument.kind == "post")) is None
    staff = as_role("staff")
    queue = staff.get("/learning/moderation").get_data(as_text=True)
    assert "Hedgehog stories" in queue and "Offensive or abusive" in queue
    assert staff.post(f"/learning/moderation/posts/{post.id}", data={"decision": "restore"}).status_code == 303
    db.session.refresh(post)
    assert post.state == PostState.VISIBLE
    assert db.session.scalar(sa.select(SearchDocument).where(SearchDocument.kind == "post")) is not None
    told = sorted(_notes(users["member"], "moderation"), key=lambda n: n.id)
    assert [n.subject for n in told] == [
        'Your post "Hedgehog stories" is hidden for now',
        'A moderator restored your post "Hedgehog stories"',
    ]
    assert "visible again" in told[1].body
    assert db.session.scalar(sa.select(sa.func.count(Flag.id)).where(Flag.resolved_at.is_(None))) == 0
    assert "Hedgehog stories" not in staff.get("/learning/moderation").get_data(as_text=True)


def test_the_threshold_is_configurable(app: Any, users: dict[str, Any]) -> None:
    app.config["FLAG_THRESHOLD"] = 1
    post = make_post(users["member"])
    _flag_by(1, post)
    assert post.state == PostState.HIDDEN


def test_staff_hide_with_a_reason_the_author_reads(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    post = make_post(users["staff"])
    comment = comments.add_comment(post, by=users["member"], body="Call me on 07700 900123")
    db.session.commit()
    moderation.flag(comment, by=users["finance"], reason="personal_information", note="A phone number")
    db.session.commit()
    staff = as_role("admin")
    no_reason = staff.post(f"/learning/moderation/comments/{comment.id}", data={"decision": "hide"})
    assert no_reason.status_code == 422 and "Say why it is hidden" in no_reason.get_data(as_text=True)
    db.session.refresh(comment)
    assert comment.state == CommentState.VISIBLE
    assert (
        staff.post(
            f"/learning/moderation/comments/{comment.id}",
            data={"decision": "hide", "reason": "It shares a phone number."},
        ).status_code
        == 303
    )
    db.session.refresh(comment)
    assert comment.state == CommentState.HIDDEN
    told = _notes(users["member"], "moderation")
    assert "It shares a phone number." in told[0].body
    email = db.session.scalar(
        sa.select(OutboxMessage).where(
            OutboxMessage.to_email == users["member"].email, OutboxMessage.kind == "notification.moderation"
        )
    )
    assert email is not None and "It shares a phone number." in email.body
    page = as_role("anonymous").get(f"/learning/{post.id}").get_data(as_text=True)
    assert "07700" not in page and "hidden while a moderator" in page


def test_dismissing_flags_keeps_the_item_up(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    post = make_post(users["member"])
    _flag_by(1, post)
    assert (
        as_role("staff").post(f"/learning/moderation/posts/{post.id}", data={"decision": "dismiss"}).status_code == 303
    )
    db.session.refresh(post)
    assert post.state == PostState.VISIBLE
    assert db.session.scalar(sa.select(Flag.outcome)) == "dismissed"


def test_flag_form_explains_mistakes(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    post = make_post(users["member"])
    staff = as_role("staff")
    response = staff.post(f"/learning/{post.id}/flag", data={"reason": "other"})
    assert response.status_code == 422 and "Tell us what is wrong" in response.get_data(as_text=True)
    assert as_role("member").get(f"/learning/{post.id}/flag").status_code == 403  # not your own
    with pytest.raises(RuleBroken):
        moderation.flag(post, by=users["staff"], reason="nonsense")


def test_a_post_with_50_comments_makes_as_many_queries_as_one_with_5(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    post = make_post(users["staff"])
    client = as_role("member")
    people = [factories.user() for _ in range(6)]

    def add(count: int) -> None:
        for number in range(count):
            author = people[number % len(people)]
            top = comments.add_comment(post, by=author, body=f"Comment {number}")
            reply = comments.add_comment(post, by=people[(number + 1) % len(people)], body="reply", parent_id=top.id)
            validations.set_validation(top, by=users["member"], on=True)
            validations.set_validation(reply, by=people[(number + 2) % len(people)], on=True)
        db.session.commit()

    def queries() -> int:
        client.get(f"/learning/{post.id}")
        with count_queries() as statements:
            assert client.get(f"/learning/{post.id}").status_code == 200
        return len(statements)

    add(5)
    few = queries()
    add(45)
    assert queries() == few


def test_the_moderation_queue_makes_as_many_queries_for_50_items_as_for_5(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    app.config["PAGE_SIZE"] = 100
    staff = as_role("staff")
    flaggers = [factories.user() for _ in range(2)]

    def add(count: int) -> None:
        for number in range(count):
            author = factories.user()
            post = make_post(author, title=f"Flagged post {number}")
            comment = comments.add_comment(post, by=users["member"], body=f"Flagged comment {number}")
            for person in flaggers:
                moderation.flag(post, by=person, reason="spam")
                moderation.flag(comment, by=person, reason="offensive", note="rude")
        db.session.commit()

    def queries() -> int:
        staff.get("/learning/moderation")
        with count_queries() as statements:
            assert staff.get("/learning/moderation").status_code == 200
        return len(statements)

    add(5)
    few = queries()
    add(45)
    page = staff.get("/learning/moderation").get_data(as_text=True)
    assert "Posts (50)" in page and "Comments (50)" in page
    assert queries() == few
