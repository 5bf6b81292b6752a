"""Telling a story: a member tells their own, or staff enter one on a storyteller's behalf
with the consent the storyteller gave (how and when) recorded and audited."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

import sqlalchemy as sa

from portal.accounts.models import User
from portal.accounts.verification import require_verified
from portal.core import audit, edits, revisions, vocabulary
from portal.core.db import utcnow
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.stories.models import (
    ConsentMethod,
    MediaKind,
    Scope,
    Story,
    StoryState,
    StoryTag,
    Storyteller,
    TagVocabulary,
)
from portal.teams.models import Project

EDITABLE_BY_STORYTELLER = (StoryState.SUBMITTED, StoryState.CHANGES_REQUESTED)


@dataclass
class StoryDetails:
    title: str
    summary: str
    body: str
    transcript: str = ""
    project_id: int | None = None
    themes: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    scope: Scope = Scope.PUBLIC
    anonymous: bool = False
    pseudonym: str = ""
    media_link: str = ""
    ask_before_publishing: bool = False


@dataclass
class ConsentRecord:
    method: ConsentMethod
    given_on: datetime
    note: str = ""


@dataclass
class Upload:
    stored_name: str
    kind: MediaKind
    content_type: str
    key_id: str = ""  # the story key the file is sealed with
    new_key: bool = False  # made for this upload (a new story): destroyed when nothing is kept


def own_storyteller(user: User) -> Storyteller | None:
    """The person's own storyteller record, if they have one yet (looking never makes one)."""
    return db.session.scalar(sa.select(Storyteller).where(Storyteller.user_id == user.id))


def storyteller_for(user: User) -> Storyteller:
    """The signed-in person's own storyteller record, made the first time they need one: only
    for someone whose email address is confirmed, since the record is linked to their account."""
    found = own_storyteller(user)
    if found is None:
        require_verified(user)
        found = Storyteller(user_id=user.id, display_name=user.name, email=user.email, created_by_id=user.id)
        db.session.add(found)
        db.session.flush()
    return found


def create_storyteller(
    *, display_name: str, by: User, pseudonym: str = "", email: str = "", project_id: int | None = None
) -> Storyteller:
    display_name = display_name.strip()
    if not display_name:
        raise RuleBroken("display_name", "Enter the storyteller's name, or the name they want shown.")
    person = Storyteller(
        display_name=display_name[:120],
        pseudonym=pseudonym.strip()[:120],
        email=email.strip().lower()[:254],
        project_id=project_id,
        created_by_id=by.id,
    )
    db.session.add(person)
    db.session.flush()
    audit.record("storyteller.created", person, actor=by)
    return person


def _check(details: StoryDetails, *, has_upload: bool) -> StoryDetails:
    details.title = details.title.strip()
    details.summary = details.summary.strip()
    details.body = details.body.strip()
    details.transcript = details.transcript.strip()
    details.media_link = details.media_link.strip()
    details.pseudonym = details.pseudonym.strip()
    if not details.title:
        raise RuleBroken("title", "Give your story a title.")
    if len(details.title) > 200:
        raise RuleBroken("title", "Keep the title to 200 characters or fewer.")
    if not details.summary:
        raise RuleBroken("summary", "Write a sentence or two saying what the story is about.")
    if len(details.summary) > 600:
        raise RuleBroken("summary", "Keep the summary to 600 characters or fewer.")
    if not details.body and not has_upload and not details.media_link:
        raise RuleBroken("body", "Write your story, or add a recording of it.")
    if details.media_link:
        parts = urlsplit(details.media_link)
        if parts.scheme != "https" or not parts.netloc or len(details.media_link) > 500:
            raise RuleBroken("media_link", "Enter a web address starting https://, or leave it blank.")
    if has_upload and details.media_link:
        raise RuleBroken("media_link", "Add a file or a link to a recording, not both.")
    if any(key not in vocabulary.THEMES for key in details.themes):
        raise RuleBroken("themes", "Choose themes from the list.")
    if any(key not in vocabulary.VALUES for key in details.values):
        raise RuleBroken("values", "Choose values from the list.")
    if details.project_id is not None and db.session.get(Project, details.project_id) is None:
        raise RuleBroken("project_id", "Choose a project from the list.")
    if len(details.pseudonym) > 120:
        raise RuleBroken("pseudonym", "Keep the pseudonym to 120 characters or fewer.")
    return details


def _set_tags(story: Story, details: StoryDetails) -> None:
    wanted = {(TagVocabulary.THEME, key) for key in details.themes} | {
        (TagVocabulary.VALUE, key) for key in details.values
    }
    for tag in list(story.tags):
        if (tag.vocabulary, tag.key) not in wanted:
            story.tags.remove(tag)
    have = {(tag.vocabulary, tag.key) for tag in story.tags}
    for vocabulary_name, key in sorted(wanted - have):
        story.tags.append(StoryTag(vocabulary=vocabulary_name, key=key))


def _apply(story: Story, storyteller: Storyteller, details: StoryDetails) -> None:
    story.title, story.summary, story.body = details.title, details.summary, details.body
    story.transcript, story.media_link = details.transcript, details.media_link
    story.project_id, story.scope, story.anonymous = details.project_id, details.scope, details.anonymous
    story.ask_before_publishing = details.ask_before_publishing
    # What the storyteller sent: staff edits are compared against this.
    story.original_title, story.original_summary = details.title, details.summary
    story.original_body, story.original_transcript = details.body, details.transcript
    story.edited_by_staff = False
    if details.pseudonym:
        storyteller.pseudonym = details.pseudonym
    _set_tags(story, details)


def tell_story(
    storyteller: Storyteller, details: StoryDetails, *, by: User, consent: ConsentRecord, upload: Upload | None = None
) -> Story:
    """A new story, sent for review. ``by`` is the storyteller, or staff entering it for them."""
    _check(details, has_upload=upload is not None)
    if consent.method == ConsentMethod.SELF and storyteller.user_id != by.id:
        raise RuleBroken("consent_method", "Say how the storyteller gave their consent.")
    if consent.given_on > utcnow():
        raise RuleBroken("consent_given_on", "The date consent was given cannot be in the future.")
    _can_be_asked(storyteller, details)
    story = Story(
        storyteller_id=storyteller.id,
        entered_by_id=by.id,
        state=StoryState.SUBMITTED,
        submitted_at=utcnow(),
        consent_method=consent.method,
        consent_given_on=consent.given_on,
        consent_recorded_by_id=by.id,
        key_id=upload.key_id if upload is not None else None,  # the key the file was sealed with
    )
    story.consent_note = consent.note.strip()[:300]  # sealed, so only once the key is settled
    story.tags = []
    _apply(story, storyteller, details)
    if upload is not None:
        story.media_stored_name, story.media_kind = upload.stored_name, upload.kind
        story.media_content_type = upload.content_type
    db.session.add(story)
    db.session.flush()
    audit.record(
        "story.consent_recorded",
        story,
        actor=by,
        after={
            "scope": story.scope.value,
            "anonymous": story.anonymous,
            "ask_before_publishing": story.ask_before_publishing,
            "method": consent.method.value,
            "given_on": consent.given_on.date().isoformat(),
            "storyteller_id": storyteller.id,
            # The note itself stays on the story, sealed with its words: an audit copy would
            # outlive a withdrawal.
            "note_written": bool(story.consent_note),
        },
    )
    revisions.keep(story, by=by)  # the version the storyteller sent, first in its history
    return story


def _can_be_asked(storyteller: Storyteller, details: StoryDetails) -> None:
    if details.ask_before_publishing and storyteller.user_id is None:
        raise RuleBroken(
            "ask_before_publishing",
            "Only a storyteller who signs in to the portal can approve changes here. "
            "Leave this unticked and ask them yourself before publishing.",
        )


def edit_own(
    story: Story,
    details: StoryDetails,
    *,
    by: User,
    seen: int | None,
    upload: Upload | None = None,
    remove_media: bool = False,
) -> str | None:
    """The storyteller changes their story before it is published, from a form opened at
    version ``seen``; it goes back for review. A story saved since (by staff, or in another tab)
    is not touched: ``EditConflict`` shows both versions.

    Returns the stored name of a replaced or removed file, for the caller to delete from disk
    once the change is committed."""
    if story.state not in EDITABLE_BY_STORYTELLER:
        raise RuleBroken("title", "This story can no longer be changed here.")
    keeps_file = story.media_stored_name is not None and not remove_media and upload is None
    _check(details, has_upload=upload is not None or keeps_file)
    _can_be_asked(story.storyteller, details)
    text = {name: getattr(details, name) for name in Story.__revised__}
    edits.edit(story, text, by=by, seen=seen, labels=Story.__revised__)
    old_file = story.media_stored_name if (upload is not None or remove_media) else None
    before = {"scope": story.scope.value, "anonymous": story.anonymous}
    _apply(story, story.storyteller, details)
    if upload is not None:
        story.key_id = story.key_id or upload.key_id
        story.media_stored_name, story.media_kind = upload.stored_name, upload.kind
        story.media_content_type = upload.content_type
    elif remove_media:
        story.media_stored_name, story.media_kind, story.media_content_type = None, MediaKind.NONE, ""
    if story.state == StoryState.CHANGES_REQUESTED:
        story.state = StoryState.SUBMITTED
        story.submitted_at = utcnow()
    after = {"scope": story.scope.value, "anonymous": story.anonymous}
    audit.record("story.resubmitted", story, actor=by, before=before, after=after)
    edits.stamp(story, by=by)
    revisions.keep(story, by=by)
    return old_file


def set_ask_before_publishing(story: Story, asked: bool, *, by: User) -> None:
    """The storyteller's choice: approve staff changes before the story is published, or not.
    (A story already waiting for their approval still waits for their answer.)"""
    if story.state == StoryState.WITHDRAWN:
        raise RuleBroken("ask_before_publishing", "This story has been withdrawn.")
    _can_be_asked(story.storyteller, StoryDetails("", "", "", ask_before_publishing=asked))
    if story.ask_before_publishing == asked:
        return
    story.ask_before_publishing = asked
    edits.stamp(story, by=by)
    audit.record("story.ask_before_publishing", story, actor=by, after={"ask": asked})
