"""The storyteller's answer when they asked to approve our changes before publishing.

A story waiting for approval shows its storyteller, word by word, what staff changed from the
version they sent (``what_changed``). They approve exactly the version they looked at (a page
opened before staff saved again is refused, so nobody approves text they have not seen), and it
is published; or they decline, saying why, and it goes back to moderation. Each answer is
audited without the words, like every other moderation step.
"""

from __future__ import annotations

from portal.accounts.models import User
from portal.core import audit, outbox, revisions
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.stories import moderation
from portal.stories.models import Story, StoryState

NOT_WAITING = "This story is not waiting for your approval any more. Reload the page to see where it is now."
MOVED_ON = (
    "Our team changed the story again since you opened this page. "
    "Read the changes below again, then approve them or tell us what is wrong."
)


def storyteller_version(story: Story) -> dict[str, str]:
    """What the storyteller sent (kept on the story when staff edit)."""
    return {name: getattr(story, f"original_{name}") for name in moderation.EDITABLE_FIELDS}


def edited_version(story: Story) -> dict[str, str]:
    """What would be published: the story as saved now."""
    return {name: getattr(story, name) for name in moderation.EDITABLE_FIELDS}


def what_changed(story: Story) -> list[revisions.FieldChange]:
    """Each field, word by word, from the storyteller's version to the edited one."""
    return revisions.compare(moderation.LABELS, storyteller_version(story), edited_version(story))


def _check(story: Story, seen: int | None) -> None:
    if story.state != StoryState.AWAITING_APPROVAL:
        raise RuleBroken("", NOT_WAITING)
    if seen is None or seen != story.version:
        raise RuleBroken("", MOVED_ON)


def approve(story: Story, *, by: User, seen: int | None) -> None:
    """The storyteller agrees to the version they saw (``seen``): it is published as it is."""
    _check(story, seen)
    audit.record("story.edits_approved", story, actor=by, after={"version": story.version})
    moderation.publish(story, by=by)


def decline(story: Story, *, by: User, seen: int | None, note: str) -> None:
    """The storyteller does not agree: the story goes back to moderation with their note."""
    _check(story, seen)
    note = note.strip()
    if not note:
        raise RuleBroken("note", "Tell our team what is wrong with the changes, so they can put it right.")
    audit.record("story.edits_declined", story, actor=by, after={"version": story.version})
    moderation.move(story, StoryState.IN_REVIEW)
    story.approval_note = note[:2000]
    _tell_moderator(story)


def _tell_moderator(story: Story) -> None:
    """The person who last edited the story hears that the storyteller declined (no words)."""
    editor = db.session.get(User, story.changed_by_id) if story.changed_by_id is not None else None
    if editor is not None and editor.is_active:
        outbox.enqueue(
            "story.edits_declined",
            editor.email,
            "A storyteller did not approve the changes to their story",
            f"Hello {editor.name},\n\nThe storyteller did not approve the changes to story {story.id}. "
            "Open it in moderation to read their note.\n",
        )
