"""Flags, automatic hiding at a threshold, and the staff review queue.

An item with at least ``FLAG_THRESHOLD`` distinct open flags is hidden at once, pending review,
and leaves search. Staff then hide it (flags upheld), restore it or dismiss the flags (flags
dismissed). Each decision is audited and the author is told, with the reason.
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from portal.accounts.models import User
from portal.core import audit, edits
from portal.core.db import utcnow
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.learning import posts
from portal.learning.models import (
    Comment,
    CommentState,
    Flag,
    FlagOutcome,
    FlagReason,
    LearningPost,
    PostState,
)
from portal.notifications.service import notify

Target = LearningPost | Comment


def _flags_of(target: Target) -> Any:
    return Flag.post_id == target.id if isinstance(target, LearningPost) else Flag.comment_id == target.id


def open_flag_count(target: Target) -> int:
    return (
        db.session.scalar(sa.select(sa.func.count(Flag.id)).where(_flags_of(target), Flag.resolved_at.is_(None))) or 0
    )


def _is_hidden(target: Target) -> bool:
    return target.state.value != "visible"


def _hide(target: Target, reason: str) -> None:
    target.moderation_reason = reason[:500]
    if isinstance(target, LearningPost):
        target.state = PostState.HIDDEN
        posts.index(target)
    else:
        target.state = CommentState.HIDDEN


def _show(target: Target) -> None:
    target.moderation_reason = ""
    if isinstance(target, LearningPost):
        target.state = PostState.VISIBLE
        posts.index(target)
    else:
        target.state = CommentState.VISIBLE


def _describe(target: Target) -> tuple[str, str]:
    if isinstance(target, LearningPost):
        return f'your post "{target.title}"', f"/learning/{target.id}"
    post = db.session.get_one(LearningPost, target.post_id)
    return f'your comment on "{post.title}"', f"/learning/{target.post_id}#comment-{target.id}"


def flag(target: Target, *, by: User, reason: str, note: str = "") -> Flag | None:
    """Record a member's flag (once per member per item); returns None if they had flagged it already."""
    if target.author_id == by.id:
        raise RuleBroken("reason", "You cannot flag your own words. You can edit or delete them instead.")
    try:
        chosen = FlagReason(reason)
    except ValueError:
        raise RuleBroken("reason", "Choose why you are flagging this.") from None
    note = (note or "").strip()
    if chosen == FlagReason.OTHER and not note:
        raise RuleBroken("note", "Tell us what is wrong, so the moderators can judge it.")
    if len(note) > 500:
        raise RuleBroken("note", "Keep the note to 500 characters or fewer.")
    new = Flag(
        reporter_id=by.id,
        reason=chosen,
        note=note,
        post_id=target.id if isinstance(target, LearningPost) else None,
        comment_id=target.id if isinstance(target, Comment) else None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(new)
    except IntegrityError:
        return None
    if not _is_hidden(target) and open_flag_count(target) >= current_app.config["FLAG_THRESHOLD"]:
        _hide(target, "Several members flagged this. It is hidden until a moderator looks at it.")
        audit.record("moderation.auto_hidden", target, actor=None, after={"state": "hidden"})
        what, url = _describe(target)
        notify(
            db.session.get(User, target.author_id),
            "moderation",
            f"{what[0].upper()}{what[1:]} is hidden for now",
            f"Several members flagged {what}, so it is hidden until a moderator looks at it. "
            "We will tell you what they decide.",
            url,
        )
    return new


def _resolve_flags(target: Target, outcome: FlagOutcome, by: User) -> int:
    # An UPDATE's result is a CursorResult, which counts the rows (Session.execute is typed as
    # returning any Result).
    result = cast(
        "sa.CursorResult[Any]",
        db.session.execute(
            sa.update(Flag)
            .where(_flags_of(target), Flag.resolved_at.is_(None))
            .values(resolved_at=utcnow(), resolved_by_id=by.id, outcome=outcome)
        ),
    )
    return result.rowcount or 0


DECISIONS = ("hide", "restore", "dismiss")


def decide(target: Target, *, by: User, decision: str, reason: str = "") -> None:
    """Staff decide about a flagged, auto-hidden or pre-moderated item."""
    reason = (reason or "").strip()
    if decision not in DECISIONS:
        raise RuleBroken("decision", "Choose hide, restore or dismiss.")
    if len(reason) > 500:
        raise RuleBroken("reason", "Keep the reason to 500 characters or fewer.")
    what, url = _describe(target)
    before = {"state": target.state.value}
    was = (target.state, target.moderation_reason)
    author = db.session.get(User, target.author_id)
    if decision == "hide":
        if not reason:
            raise RuleBroken("reason", "Say why it is hidden: the author will be told.")
        _hide(target, reason)
        _resolve_flags(target, FlagOutcome.UPHELD, by)
        notify(author, "moderation", f"A moderator hid {what}", f"A moderator hid {what}. The reason: {reason}", url)
    elif decision == "restore":
        was_pending = isinstance(target, LearningPost) and target.state == PostState.PENDING
        _show(target)
        _resolve_flags(target, FlagOutcome.DISMISSED, by)
        text = (
            f"A moderator approved {what}. It is now visible."
            if was_pending
            else f"A moderator looked at {what} and it is visible again."
        )
        notify(
            author,
            "moderation",
            f"A moderator restored {what}" if not was_pending else f"A moderator approved {what}",
            text + (f" {reason}" if reason else ""),
            url,
        )
    else:  # dismiss: the flags were not upheld; the item stays as it is (visible)
        if _is_hidden(target):
            _show(target)
        if not _resolve_flags(target, FlagOutcome.DISMISSED, by) and before["state"] == "visible":
            raise RuleBroken("decision", "There are no open flags to dismiss.")
        notify(
            author,
            "moderation",
            f"Flags on {what} were dismissed",
            f"Members flagged {what}. A moderator looked and it stays up." + (f" {reason}" if reason else ""),
            url,
        )
    if isinstance(target, LearningPost) and (target.state, target.moderation_reason) != was:
        edits.stamp(target, by=by)  # an author's form opened before this names the moderator who moved it on
    audit.record(
        f"moderation.{decision}", target, actor=by, before=before, after={"state": target.state.value}, note=reason
    )


# --- the queue --------------------------------------------------------------------------------


def _open_counts(column: Any) -> Any:
    return (
        sa.select(column.label("target_id"), sa.func.count(Flag.id).label("flags"))
        .where(column.is_not(None), Flag.resolved_at.is_(None))
        .group_by(column)
        .subquery()
    )


def post_queue() -> sa.Select[Any]:
    """Posts with open flags, hidden by flags, or waiting for pre-moderation; oldest first."""
    counts = _open_counts(Flag.post_id)
    return (
        sa.select(LearningPost, sa.func.coalesce(counts.c.flags, 0))
        .outerjoin(counts, counts.c.target_id == LearningPost.id)
        .where(sa.or_(counts.c.flags > 0, LearningPost.state == PostState.PENDING))
        .options(joinedload(LearningPost.author))
        .order_by(LearningPost.created_at, LearningPost.id)
    )


def comment_queue() -> sa.Select[Any]:
    counts = _open_counts(Flag.comment_id)
    return (
        sa.select(Comment, counts.c.flags)
        .join(counts, counts.c.target_id == Comment.id)
        .options(joinedload(Comment.author), joinedload(Comment.post))
        .order_by(Comment.created_at, Comment.id)
    )


def flags_for(post_ids: list[int], comment_ids: list[int]) -> dict[tuple[str, int], list[Flag]]:
    """Open flags of the queue's page, grouped by item: one query."""
    found: dict[tuple[str, int], list[Flag]] = {}
    if not post_ids and not comment_ids:
        return found
    rows = db.session.scalars(
        sa.select(Flag)
        .where(Flag.resolved_at.is_(None), sa.or_(Flag.post_id.in_(post_ids), Flag.comment_id.in_(comment_ids)))
        .options(joinedload(Flag.reporter))
        .order_by(Flag.id)
    )
    for f in rows:
        if f.post_id:
            key = ("post", f.post_id)
        else:
            assert f.comment_id is not None  # a flag is on a post or on a comment (one_target)
            key = ("comment", f.comment_id)
        found.setdefault(key, []).append(f)
    return found
