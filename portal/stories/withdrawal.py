"""Withdrawal: in one step a story leaves every page, feed, search, export and statistic.

The story's key is destroyed first (``core.keystore``), so every copy of its sealed words and
media anywhere (the database's old row versions and log, backups) is unreadable at once, even
if what follows never commits; a story whose key is gone reads as withdrawn everywhere.

Its words and media are erased from the database and the disk (with every saved version of
them in ``revisions``); the row stays as a tombstone
with its id, storyteller, who withdrew it and when. Every listing filters on the published
state, so the tombstone is invisible everywhere by construction.
"""

from __future__ import annotations

from portal.accounts.models import User
from portal.core import audit, keystore, revisions
from portal.core.db import utcnow
from portal.core.errors import RuleBroken
from portal.stories import indexing, media
from portal.stories.models import WITHDRAWN_TITLE, MediaKind, Story, StoryState

__all__ = ["WITHDRAWN_TITLE", "erase_media_file", "withdraw"]


def withdraw(story: Story, *, by: User) -> str | None:
    """Withdraw and erase; returns the stored media file name for the caller to delete after
    the commit (so a failed commit never leaves a row pointing at a deleted file)."""
    if story.state == StoryState.WITHDRAWN:
        raise RuleBroken("story", "This story has already been withdrawn.")
    media_file = story.media_stored_name
    # The key first: from here on no copy of the words (dead rows, WAL, backups, replicas) opens.
    if story.key_id is not None:
        keystore.destroy(story.key_id)
    story.key_id = None
    story.state = StoryState.WITHDRAWN
    story.withdrawn_at = utcnow()
    story.withdrawn_by_id = by.id
    for name in (
        "title",
        "summary",
        "body",
        "transcript",
        "original_summary",
        "original_body",
        "original_transcript",
        "original_title",
        "media_link",
        "media_content_type",
        "moderation_note",
        "approval_note",
        "consent_note",
    ):
        setattr(story, name, "")
    story.media_stored_name = None
    story.media_kind = MediaKind.NONE
    story.featured = False
    story.project_id = None
    story.tags.clear()  # themes and values count in statistics; the tombstone has none
    story.ask_before_publishing = False
    revisions.erase(Story.__tablename__, story.id)  # every saved version of its words goes too
    audit.record("story.withdrawn", story, actor=by, after={"storyteller_id": story.storyteller_id})
    indexing.removed(story)
    return media_file


def erase_media_file(stored_name: str | None) -> None:
    media.remove(stored_name)
