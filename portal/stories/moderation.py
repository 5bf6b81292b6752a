"""Moderation: submitted → in review → published | changes requested | declined.

Staff may edit out identifying details while a story is in review; the storyteller's
original stays on the story and ``changes`` shows word by word what was taken out or added.
Audit entries name what happened and which fields changed, never the words themselves, so a
withdrawn story's text does not survive in the audit log.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from portal.accounts.models import User
from portal.core import audit, outbox
from portal.core.db import utcnow
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.stories import indexing
from portal.stories.models import STORY_TRANSITIONS, Story, StoryState, Storyteller

QUEUE_STATES = (StoryState.SUBMITTED, StoryState.IN_REVIEW, StoryState.CHANGES_REQUESTED)
EDITABLE_FIELDS = ("title", "summary", "body", "transcript")


def _move(story: Story, to: StoryState) -> None:
    if to not in STORY_TRANSITIONS[story.state]:
        raise RuleBroken(
            "action",
            f"A story that is “{story.state.label.lower()}” cannot be moved to "
            f"“{to.label.lower()}”. Reload the page to see where it is now.",
        )
    story.state = to


def queue_query(state: StoryState | None = None) -> sa.Select[Story]:
    """Stories waiting for staff, oldest first, with storyteller and project in the same query."""
    states = (state,) if state in QUEUE_STATES else QUEUE_STATES
    return (
        sa.select(Story)
        .options(joinedload(Story.storyteller), joinedload(Story.project))
        .where(Story.state.in_(states))
        .order_by(Story.submitted_at, Story.id)
    )


def queue_counts() -> dict[StoryState, int]:
    """How many stories wait in each moderation state (for the queue and the staff dashboard)."""
    rows = db.session.execute(
        sa.select(Story.state, sa.func.count()).where(Story.state.in_(QUEUE_STATES)).group_by(Story.state)
    ).all()
    found = dict(rows)
    return {state: found.get(state, 0) for state in QUEUE_STATES}


def start_review(story: Story, *, by: User) -> None:
    _move(story, StoryState.IN_REVIEW)
    audit.record("story.review_started", story, actor=by)


def edit(story: Story, *, by: User, title: str, summary: str, body: str, transcript: str) -> list[str]:
    """Staff edit (to take out identifying details); returns the names of the fields changed."""
    if story.state != StoryState.IN_REVIEW:
        raise RuleBroken("title", "Start the review before editing the story.")
    new = {"title": title.strip(), "summary": summary.strip(), "body": body.strip(), "transcript": transcript.strip()}
    if not new["title"]:
        raise RuleBroken("title", "The story needs a title.")
    if not new["summary"]:
        raise RuleBroken("summary", "The story needs a summary.")
    changed = [name for name in EDITABLE_FIELDS if getattr(story, name) != new[name]]
    for name in changed:
        setattr(story, name, new[name])
    if changed:
        story.edited_by_staff = True
        audit.record("story.edited", story, actor=by, after={"fields": changed})
    return changed


def publish(story: Story, *, by: User) -> None:
    if story.has_media and not story.transcript.strip():
        raise RuleBroken(
            "transcript", "Add a transcript before publishing a story with audio or video, so everyone can read it."
        )
    _move(story, StoryState.PUBLISHED)
    story.published_at = story.published_at or utcnow()
    story.moderation_note = ""
    audit.record("story.published", story, actor=by, after={"scope": story.scope.value, "anonymous": story.anonymous})
    indexing.published(story)
    _tell_storyteller(
        story,
        "story.published",
        "Your story is published",
        "Thank you. Your story has been published, with the choices you made about who sees it.",
    )


def request_changes(story: Story, *, by: User, note: str) -> None:
    note = note.strip()
    if not note:
        raise RuleBroken("note", "Write a note telling the storyteller what to change.")
    _move(story, StoryState.CHANGES_REQUESTED)
    story.moderation_note = note[:2000]
    audit.record("story.changes_requested", story, actor=by)
    _tell_storyteller(
        story,
        "story.changes_requested",
        "Your story: a change is needed",
        "Our team has read your story and asked for a change. Sign in and open 'Your stories' to read their note.",
    )


def decline(story: Story, *, by: User, note: str) -> None:
    note = note.strip()
    if not note:
        raise RuleBroken("note", "Write a note telling the storyteller why the story will not be published.")
    _move(story, StoryState.DECLINED)
    story.moderation_note = note[:2000]
    audit.record("story.declined", story, actor=by)
    indexing.removed(story)
    _tell_storyteller(
        story,
        "story.declined",
        "Your story",
        "Our team has read your story and will not publish it. Sign in and open 'Your stories' to read why.",
    )


def unpublish(story: Story, *, by: User) -> None:
    _move(story, StoryState.IN_REVIEW)
    story.featured = False
    audit.record("story.unpublished", story, actor=by)
    indexing.removed(story)


def set_featured(story: Story, featured: bool, *, by: User) -> None:
    if featured and story.state != StoryState.PUBLISHED:
        raise RuleBroken("featured", "Only a published story can be featured.")
    story.featured = featured
    audit.record("story.featured" if featured else "story.unfeatured", story, actor=by)


def decide(story: Story, action: str, *, by: User, note: str = "") -> None:
    """One of the moderation buttons: start_review, publish, request_changes, decline, unpublish."""
    if action == "start_review":
        start_review(story, by=by)
    elif action == "publish":
        publish(story, by=by)
    elif action == "request_changes":
        request_changes(story, by=by, note=note)
    elif action == "decline":
        decline(story, by=by, note=note)
    elif action == "unpublish":
        unpublish(story, by=by)
    else:
        raise RuleBroken("action", "Choose what to do with the story.")


def _tell_storyteller(story: Story, kind: str, subject: str, text: str) -> None:
    teller = db.session.get(Storyteller, story.storyteller_id)
    if teller is None or teller.user_id is None:
        return  # interviewed storytellers without a login hear from staff directly
    user = db.session.get(User, teller.user_id)
    if user is not None and user.is_active:
        # The email never carries the story's words: they may be withdrawn later.
        outbox.enqueue(kind, user.email, subject, f"Hello {user.name},\n\n{text}\n")


# --- what changed ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    kind: str  # "same" | "removed" | "added"
    text: str


_WORDS = re.compile(r"\S+\s*|\s+")  # each word with the space after it


def changes(original: str, current: str) -> list[Piece]:
    """Word-level differences from the storyteller's original to the current text."""
    before, after = _WORDS.findall(original or ""), _WORDS.findall(current or "")
    pieces: list[Piece] = []
    for op, a1, a2, b1, b2 in difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes():
        if op == "equal":
            pieces.append(Piece("same", "".join(before[a1:a2])))
            continue
        if a2 > a1:
            pieces.append(Piece("removed", "".join(before[a1:a2])))
        if b2 > b1:
            pieces.append(Piece("added", "".join(after[b1:b2])))
    return pieces


def changed_fields(story: Story) -> dict[str, list[Piece]]:
    """For each field staff changed, the differences from what the storyteller sent."""
    found = {}
    for name in EDITABLE_FIELDS:
        original, current = getattr(story, f"original_{name}"), getattr(story, name)
        if original != current:
            found[name] = changes(original, current)
    return found
