"""Rules for learning posts, comments, validations, flags and moderation, by state."""

from __future__ import annotations

from typing import Any

from portal.core.permissions import is_staff, register, signed_in
from portal.learning.models import PostState, Visibility


def author(user: Any, item: Any) -> bool:
    return signed_in(user) and item is not None and item.author_id == user.id


def readable(user: Any, post: Any) -> bool:
    if post is None:
        return False
    if author(user, post) or is_staff(user):
        return True
    return post.state == PostState.VISIBLE and (post.visibility == Visibility.PUBLIC or signed_in(user))


def others_visible(user: Any, item: Any) -> bool:
    # validate or flag: someone else's words that are up and (for comments) not deleted
    return (
        signed_in(user)
        and item is not None
        and item.author_id != user.id
        and item.state == "visible"
        and getattr(item, "deleted_at", None) is None
    )


AUTHOR_ONLY = "Only the author can do that."

register(
    {
        "posts.write": lambda user, obj: signed_in(user),
        "post.view": (readable, "This post is not shared with you."),
        "post.edit": (author, AUTHOR_ONLY),
        "post.delete": (author, AUTHOR_ONLY),
        "post.comment": (
            lambda user, post: signed_in(user) and post is not None and post.state == PostState.VISIBLE,
            "Comments are open only on posts that are up.",
        ),
        "comment.edit": (lambda user, c: author(user, c) and c.deleted_at is None, AUTHOR_ONLY),
        "comment.delete": (lambda user, c: author(user, c) and c.deleted_at is None, AUTHOR_ONLY),
        "content.validate": (others_visible, "You can say this resonates only with someone else's words that are up."),
        "content.flag": (others_visible, "You can flag only someone else's words that are up."),
        "validators.view": lambda user, obj: signed_in(user),
        "moderation.review": (lambda user, obj: is_staff(user), "Moderation is for programme staff."),
    }
)
