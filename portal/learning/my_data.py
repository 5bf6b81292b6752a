"""What the peer network's learning area holds about a person (posts, comments, "this
resonates", flags) and how "Erase me" erases it. Their words go; a post others replied to keeps
its place as "Removed by its author" so the replies still make sense, and a comment becomes the
existing "Comment deleted." placeholder. Bylines of what stays read "A former member"."""

from __future__ import annotations

import sqlalchemy as sa

from portal.accounts.models import User
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.my_data import Row, StoredFile, register_eraser, register_export
from portal.core.search import documents
from portal.learning.models import Comment, Flag, LearningPost, PostTag, Validation

REMOVED_TITLE = "Removed by its author"


@register_export("posts", "the learning posts you wrote")
def posts(person: User) -> list[Row]:
    found = db.session.scalars(
        sa.select(LearningPost).where(LearningPost.author_id == person.id).order_by(LearningPost.id)
    )  # tags load with the posts in one more query (lazy="selectin")
    return [
        {
            "id": p.id,
            "title": p.title,
            "body": p.body,
            "visibility": p.visibility,
            "state": p.state,
            "project_id": p.project_id,
            "values": p.value_keys,
            "themes": p.theme_keys,
            "created_at": p.created_at,
            "edited_at": p.edited_at,
        }
        for p in found
    ]


@register_export("comments", "the comments and replies you wrote, with the post they are on")
def comments(person: User) -> list[Row]:
    found = db.session.scalars(sa.select(Comment).where(Comment.author_id == person.id).order_by(Comment.id))
    return [
        {
            "id": c.id,
            "post_id": c.post_id,
            "reply_to_comment_id": c.parent_id,
            "body": c.body,
            "state": c.state,
            "created_at": c.created_at,
            "edited_at": c.edited_at,
            "deleted_at": c.deleted_at,
        }
        for c in found
    ]


@register_export("resonates", "the posts and comments you marked “this resonates”")
def resonates(person: User) -> list[Row]:
    found = db.session.scalars(sa.select(Validation).where(Validation.user_id == person.id).order_by(Validation.id))
    return [{"post_id": v.post_id, "comment_id": v.comment_id, "at": v.created_at} for v in found]


@register_export("flags", "posts and comments you flagged for a moderator, with your reason")
def flags(person: User) -> list[Row]:
    found = db.session.scalars(sa.select(Flag).where(Flag.reporter_id == person.id).order_by(Flag.id))
    return [
        {
            "post_id": f.post_id,
            "comment_id": f.comment_id,
            "reason": f.reason,
            "note": f.note,
            "at": f.created_at,
            "outcome": f.outcome,
        }
        for f in found
    ]


@register_eraser("learning", order=20)
def erase_learning(person: User, reference: str) -> list[StoredFile]:
    db.session.execute(sa.delete(Validation).where(Validation.user_id == person.id))
    db.session.execute(sa.delete(Flag).where(Flag.reporter_id == person.id))
    db.session.execute(
        sa.update(Comment)
        .where(Comment.author_id == person.id)
        .values(body="", body_html="", moderation_reason="", deleted_at=sa.func.coalesce(Comment.deleted_at, utcnow()))
        .execution_options(synchronize_session="fetch")
    )
    others = sa.select(Comment.post_id).where(Comment.author_id != person.id).distinct()
    written = db.session.scalars(sa.select(LearningPost).where(LearningPost.author_id == person.id)).all()
    replied = set(db.session.scalars(others.where(Comment.post_id.in_([p.id for p in written]))))
    for post in written:
        documents.remove(kind="post", object_id=post.id)
        if post.id in replied:
            post.title = REMOVED_TITLE
            post.body = post.body_html = post.moderation_reason = ""
            post.edited_at = None
        else:
            db.session.delete(post)
    db.session.execute(sa.delete(PostTag).where(PostTag.post_id.in_([p.id for p in written if p.id in replied])))
    return []
