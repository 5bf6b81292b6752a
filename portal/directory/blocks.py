"""Blocking: a member stops another from messaging them, and each stops seeing the other.

A block works both ways: neither person can send the other a message (or reply to one), and
neither sees the other's directory entry or finds them in the directory. Only the person who
blocked can see the block (on "People you have blocked") and undo it. Messages already sent
stay where they are, so either can still report them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from portal.accounts.models import User
from portal.core import audit
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.directory.models import Block

BLOCKED = "You cannot message this person. One of you has blocked the other."


def between(one_id: int, other_id: int) -> bool:
    """True when either person blocked the other."""
    return (
        db.session.scalar(
            sa.select(sa.literal(True)).where(
                sa.or_(
                    sa.and_(Block.blocker_id == one_id, Block.blocked_id == other_id),
                    sa.and_(Block.blocker_id == other_id, Block.blocked_id == one_id),
                )
            )
        )
        is not None
    )


def has_blocked(blocker_id: int, blocked_id: int) -> bool:
    return db.session.get(Block, (blocker_id, blocked_id)) is not None


def hidden_from(viewer_id: int, person_column: Any) -> sa.ColumnElement[bool]:
    """A condition for queries: the person in ``person_column`` and the viewer have no block."""
    return ~sa.exists().where(
        sa.or_(
            sa.and_(Block.blocker_id == viewer_id, Block.blocked_id == person_column),
            sa.and_(Block.blocker_id == person_column, Block.blocked_id == viewer_id),
        )
    )


def block(blocker: User, person: User) -> bool:
    """Block ``person``; false when they were already blocked."""
    if person.id == blocker.id:
        raise RuleBroken("", "You cannot block yourself.")
    if has_blocked(blocker.id, person.id):
        return False
    db.session.add(Block(blocker_id=blocker.id, blocked_id=person.id))
    db.session.flush()
    # Safety decisions are the person's own, so they are recorded (never shown to the other).
    audit.record("member.blocked", person, actor=blocker, after={"blocked_by": blocker.id})
    return True


def unblock(blocker: User, person: User) -> bool:
    """Undo a block; false when there was none."""
    found = db.session.get(Block, (blocker.id, person.id))
    if found is None:
        return False
    db.session.delete(found)
    audit.record("member.unblocked", person, actor=blocker, after={"unblocked_by": blocker.id})
    return True


def blocked_query(blocker_id: int) -> sa.Select[Block]:
    """The people someone has blocked, most recent first, with their accounts loaded alongside."""
    return (
        sa.select(Block)
        .where(Block.blocker_id == blocker_id)
        .options(joinedload(Block.blocked))
        .order_by(Block.created_at.desc(), Block.blocked_id.desc())
    )
