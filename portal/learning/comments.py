"""Comments on learning posts, with one level of replies, paged a thread at a time."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.orm import joinedload

from portal.accounts.models import User
from portal.core.db import utcnow
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.core.permissions import is_staff, signed_in
from portal.learning.models import Comment, CommentState, LearningPost, PostState, Validation
from portal.learning.text import to_html
from portal.notifications.service import notify

BODY_MAX = 5_000


def _clean(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise RuleBroken("body", "Write a comment.")
    if len(body) > BODY_MAX:
        raise RuleBroken("body", f"Keep comments to {BODY_MAX:,} characters or fewer.")
    return body


def comment_url(comment: Comment) -> str:
    return f"/learning/{comment.post_id}#comment-{comment.id}"


def add_comment(post: LearningPost, *, by: User, body: str, parent_id: int | None = None) -> Comment:
    if post.state != PostState.VISIBLE:
        raise RuleBroken("body", "This post is not open for comments.")
    body = _clean(body)
    parent = None
    if parent_id:
        parent = db.session.get(Comment, parent_id)
        if parent is None or parent.post_id != post.id:
            raise RuleBroken("body", "The comment you are replying to is not on this post.")
        if parent.parent_id is not None:  # one level of replies: a reply to a reply joins the thread
            parent = db.session.get(Comment, parent.parent_id)
    comment = Comment(
        post_id=post.id,
        author_id=by.id,
        parent_id=parent.id if parent else None,
        body=body,
        body_html=to_html(body),
        created_at=utcnow(),
    )
    db.session.add(comment)
    db.session.flush()
    author = db.session.get(User, post.author_id)
    if parent is not None and parent.author_id != by.id and parent.deleted_at is None:
        notify(
            db.session.get(User, parent.author_id),
            "reply",
            f"{by.name} replied to your comment",
            f'{by.name} replied to your comment on "{post.title}".',
            comment_url(comment),
        )
    if post.author_id != by.id and (parent is None or parent.author_id != post.author_id):
        notify(
            author,
            "comment",
            f'{by.name} commented on "{post.title}"',
            f'{by.name} commented on your post "{post.title}".',
            comment_url(comment),
        )
    return comment


def edit_comment(comment: Comment, *, by: User, body: str) -> None:
    if comment.author_id != by.id or comment.deleted_at is not None:
        raise RuleBroken("body", "Only the author can change this comment.")
    comment.body = _clean(body)
    comment.body_html = to_html(comment.body)
    comment.edited_at = utcnow()


def delete_comment(comment: Comment, *, by: User) -> None:
    """The words go; the place stays ("comment deleted") so replies still make sense."""
    if comment.author_id != by.id:
        raise RuleBroken("body", "Only the author can delete this comment.")
    comment.body = comment.body_html = ""
    comment.deleted_at = utcnow()
    db.session.execute(sa.delete(Validation).where(Validation.comment_id == comment.id))


THREADS_PER_PAGE = 20


def thread_page(
    post: LearningPost, *, page: int, per_page: int = THREADS_PER_PAGE
) -> tuple[Pagination, dict[int, list[Comment]]]:
    """One page of top-level comments and all their replies: two queries, whatever the length."""
    top = db.paginate(
        sa.select(Comment)
        .where(Comment.post_id == post.id, Comment.parent_id.is_(None))
        .options(joinedload(Comment.author))
        .order_by(Comment.id),
        page=page,
        per_page=per_page,
        error_out=False,
    )
    ids = [c.id for c in top.items]
    replies: dict[int, list[Comment]] = {i: [] for i in ids}
    if ids:
        for reply in db.session.scalars(
            sa.select(Comment)
            .where(Comment.parent_id.in_(ids))
            .options(joinedload(Comment.author))
            .order_by(Comment.id)
        ):
            assert reply.parent_id is not None  # parent_id IN (...): a reply
            replies[reply.parent_id].append(reply)
    return top, replies


def shown(comment: Comment, viewer: Any) -> bool:
    """Hidden comments show their words only to their author and staff (others see a note)."""
    if comment.state == CommentState.VISIBLE:
        return True
    return signed_in(viewer) and (viewer.id == comment.author_id or is_staff(viewer))
