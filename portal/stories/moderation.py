"""Moderation: submitted → in review → published | changes requested | declined.

Staff may edit out identifying details while a story is in review; the storyteller's
original stays on the story and ``changes`` shows word by word what was taken out or added.
Audit entries name what happened and which fields changed, never the words themselves, so a
withdrawn story's text does not survive in the audit log.

Editing and publishing are one step (``save_and_publish``): what is published is exactly the
text of the form the moderator pressed the button on, saved first, and only if nobody saved
the story since that form was opened (``core.edits``). There is no way to publish a story
without the text in front of the moderator. A storyteller who asked to approve the edits first
(``ask_before_publishing``) is asked instead (``approval.py`` has their answer).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from portal.accounts.models import User
from portal.core import audit, edits, outbox, revisions
from portal.core.db import utcnow
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.stories import indexing
from portal.stories.models import STORY_TRANSITIONS, Story, StoryState, Storyteller

QUEUE_STATES = (
    StoryState.SUBMITTED,
    StoryState.IN_REVIEW,
    StoryState.CHANGES_REQUESTED,
    StoryState.AWAITING_APPROVAL,
)
EDITABLE_FIELDS = ("title", "summary", "body", "transcript")
LABELS = Story.__revised__


def move(story: Story, to: StoryState) -> None:
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
    move(story, StoryState.IN_REVIEW)
    audit.record("story.review_started", story, actor=by)


def edit(
    story: Story, *, by: User, seen: int | None, title: str, summary: str, body: str, transcript: str
) -> list[str]:
    """Staff edit (to take out identifying details) from a form opened at version ``seen``;
    returns the names of the fields changed. A story saved since then is not touched
    (``EditConflict``, with both versions)."""
    new = {"title": title.strip(), "summary": summary.strip(), "body": body.strip(), "transcript": transcript.strip()}
    edits.check_fresh(story, seen, new, by=by, labels=LABELS)
    if story.state != StoryState.IN_REVIEW:
        raise RuleBroken("title", "Start the review before editing the story.")
    if not new["title"]:
        raise RuleBroken("title", "The story needs a title.")
    if not new["summary"]:
        raise RuleBroken("summary", "The story needs a summary.")
    changed = [name for name in EDITABLE_FIELDS if getattr(story, name) != new[name]]
    if edits.edit(story, new, by=by, seen=seen, labels=LABELS):
        story.edited_by_staff = True
        audit.record("story.edited", story, actor=by, after={"fields": changed})
        revisions.keep(story, by=by)
    return changed


def save_and_publish(
    story: Story, *, by: User, seen: int | None, title: str, summary: str, body: str, transcript: str
) -> StoryState:
    """The edits in the form, saved, and then exactly that text published; or, when the
    storyteller asked to approve changes first, sent to them. Returns the state it is now in."""
    edit(story, by=by, seen=seen, title=title, summary=summary, body=body, transcript=transcript)
    if story.ask_before_publishing:
        ask_storyteller(story, by=by)
    else:
        publish(story, by=by)
    return story.state


def _needs_transcript(story: Story) -> None:
    if story.has_media and not story.transcript.strip():
        raise RuleBroken(
            "transcript", "Add a transcript before publishing a story with audio or video, so everyone can read it."
        )


def publish(story: Story, *, by: User) -> None:
    """Publish the story as it is saved now (called once its text is settled: by
    ``save_and_publish`` and by the storyteller's approval, never by a button on its own)."""
    _needs_transcript(story)
    move(story, StoryState.PUBLISHED)
    story.published_at = story.published_at or utcnow()
    story.moderation_note = ""
    story.approval_note = ""
    audit.record("story.published", story, actor=by, after={"scope": story.scope.value, "anonymous": story.anonymous})
    indexing.published(story)
    _tell_storyteller(
        story,
        "story.published",
        "Your story is published",
        "Thank you. Your story has been published, with the choices you made about who sees it.",
    )


def ask_storyteller(story: Story, *, by: User) -> None:
    """The story is ready to publish, but its storyteller asked to see our changes first."""
    _needs_transcript(story)
    teller = db.session.get(Storyteller, story.storyteller_id)
    user = db.session.get(User, teller.user_id) if teller is not None and teller.user_id is not None else None
    if user is None or not user.is_active:
        raise RuleBroken(
            "",
            "The storyteller asked to approve changes before publishing, but cannot sign in to do it. "
            "Ask them another way, then turn the setting off on their story before publishing.",
        )
    move(story, StoryState.AWAITING_APPROVAL)
    story.approval_note = ""
    audit.record("story.approval_requested", story, actor=by)
    _tell_storyteller(
        story,
        "story.approval_requested",
        "Your story: please check our changes",
        "Our team has read your story and it is ready to publish. You asked to see our changes first. "
        "Sign in and open 'Your stories' to see exactly what we changed, then approve it or tell us what is wrong.",
    )


def request_changes(story: Story, *, by: User, note: str) -> None:
    note = note.strip()
    if not note:
        raise RuleBroken("note", "Write a note telling the storyteller what to change.")
    move(story, StoryState.CHANGES_REQUESTED)
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
    move(story, StoryState.DECLINED)
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
    move(story, StoryState.IN_REVIEW)
    story.featured = False
    audit.record("story.unpublished", story, actor=by)
    indexing.removed(story)


def take_back(story: Story, *, by: User) -> None:
    """Staff stop waiting for the storyteller's approval, to edit again."""
    if story.state != StoryState.AWAITING_APPROVAL:
        raise RuleBroken("action", "This story is not waiting for the storyteller's approval.")
    move(story, StoryState.IN_REVIEW)
    audit.record("story.approval_withdrawn", story, actor=by)


def set_featured(story: Story, featured: bool, *, by: User) -> None:
    if featured and story.state != StoryState.PUBLISHED:
        raise RuleBroken("featured", "Only a published story can be featured.")
    story.featured = featured
    audit.record("story.featured" if featured else "story.unfeatured", story, actor=by)


def decide(story: Story, action: str, *, by: User, note: str = "") -> None:
    """One of the moderation buttons: start_review, request_changes, decline, unpublish.
    (Publishing is not one of them: it goes with the edits, ``save_and_publish``.)"""
    if action == "start_review":
        start_review(story, by=by)
    elif action == "request_changes":
        request_changes(story, by=by, note=note)
    elif action == "decline":
        decline(story, by=by, note=note)
    elif action == "unpublish":
        unpublish(story, by=by)
    elif action == "take_back":
        take_back(story, by=by)
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
