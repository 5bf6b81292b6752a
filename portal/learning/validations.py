"""\"This resonates\": one per member per post or comment, toggled on and off."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from portal.accounts.models import User
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.learning.models import Comment, LearningPost, Validation
from portal.notifications.service import notify


def _target_filter(target: LearningPost | Comment) -> Any:
    if isinstance(target, LearningPost):
        return Validation.post_id == target.id
    return Validation.comment_id == target.id


def has_validated(user: Any, target: LearningPost | Comment) -> bool:
    if user is None or not user.is_authenticated:
        return False
    return (
        db.session.scalar(sa.select(Validation.id).where(_target_filter(target), Validation.user_id == user.id))
        is not None
    )


def count(target: LearningPost | Comment) -> int:
    return db.session.scalar(sa.select(sa.func.count(Validation.id)).where(_target_filter(target))) or 0


def set_validation(target: LearningPost | Comment, *, by: User, on: bool) -> bool:
    """Turn this member's validation on or off; returns whether it is now on.

    Asking twice for the same thing (a double click, two tabs) changes nothing the second
    time: the unique constraint decides, inside a savepoint, so the caller's transaction lives.
    """
    if target.author_id == by.id:
        raise RuleBroken("validate", "You cannot say your own words resonate.")
    if isinstance(target, Comment) and target.deleted_at is not None:
        raise RuleBroken("validate", "This comment was deleted.")
    if not on:
        db.session.execute(sa.delete(Validation).where(_target_filter(target), Validation.user_id == by.id))
        return False
    if has_validated(by, target):
        return True
    validation = Validation(
        user_id=by.id,
        post_id=target.id if isinstance(target, LearningPost) else None,
        comment_id=target.id if isinstance(target, Comment) else None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(validation)
    except IntegrityError:
        return True  # the other tab got there first
    if isinstance(target, LearningPost):
        what, url = f'your post "{target.title}"', f"/learning/{target.id}"
    else:
        post = db.session.get_one(LearningPost, target.post_id)
        what, url = f'your comment on "{post.title}"', f"/learning/{target.post_id}#comment-{target.id}"
    notify(
        db.session.get(User, target.author_id),
        "validation",
        f"{by.name} says {what} resonates",
        f"{by.name} says {what} resonates with them.",
        url,
    )
    return True


def counts_for_comments(comment_ids: list[int]) -> dict[int, int]:
    if not comment_ids:
        return {}
    rows = db.session.execute(
        sa.select(Validation.comment_id, sa.func.count(Validation.id))
        .where(Validation.comment_id.in_(comment_ids))
        .group_by(Validation.comment_id)
    )
    # comment_id IN (...) leaves no row without a comment
    return {comment_id: count for comment_id, count in rows if comment_id is not None}


def mine_among_comments(user: Any, comment_ids: list[int]) -> set[int]:
    if not comment_ids or user is None or not user.is_authenticated:
        return set()
    return set(
        db.session.scalars(
            sa.select(Validation.comment_id).where(
                Validation.comment_id.in_(comment_ids), Validation.user_id == user.id
            )
        )
    )


def validators(target: LearningPost | Comment) -> list[User]:
    rows = db.session.scalars(
        sa.select(Validation)
        .where(_target_filter(target))
        .options(joinedload(Validation.user))
        .order_by(Validation.id)
        .limit(500)
    )
    return [v.user for v in rows]
