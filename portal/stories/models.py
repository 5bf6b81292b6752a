"""Storytellers, their (consented) demographics, stories, story tags and the moderation states.

Demographics live in their own table: a row exists only while consent to store them is
recorded, so withdrawing consent deletes the row and nothing is left to leak. A withdrawn
story keeps its row as a tombstone (id, storyteller, who withdrew and when) with every piece
of content blanked.
"""

from __future__ import annotations

import enum
import json
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.core import keystore, revisions
from portal.core.db import UTCDateTime, str_enum, utcnow
from portal.core.edits import Edited
from portal.core.errors import RuleBroken
from portal.core.extensions import Model, db
from portal.teams.models import Project

PREFER_NOT_TO_SAY = "prefer_not_to_say"
# What a withdrawn story (or one whose key is gone) is called wherever its tombstone shows.
WITHDRAWN_TITLE = "Withdrawn story"

# The storyteller vocabularies from DESIGN.md ("Community storytellers").
ROLES: dict[str, str] = {
    "lived_experience": "Lived or living experience",
    "facilitator": "Co-production facilitator",
    "professional": "Involved as part of their job",
}
SECTORS: dict[str, str] = {"research": "Research", "policy": "Policy", "services": "Services"}
LIVED_EXPERIENCE_AREAS: dict[str, str] = {
    "addiction": "Addiction",
    "homelessness": "Homelessness",
    "poverty": "Poverty",
    "adverse_childhood_experiences": "Adverse childhood experiences",
    "prison": "Prison",
    "adoption": "Adoption",
    "care": "Care",
    "psychiatric_hospital": "Psychiatric hospital",
    "sexual_exploitation": "Sexual exploitation",
    "other": "Other",
}
GENDERS: dict[str, str] = {
    "female": "Female",
    "male": "Male",
    "non_binary": "Non-binary",
    "self_described": "In another way",
}
YES_NO: dict[str, str] = {"yes": "Yes", "no": "No"}


class Scope(enum.StrEnum):
    PUBLIC = "public"
    NETWORK = "network"
    RESEARCH = "research"

    @property
    def label(self) -> str:
        return {
            "public": "Everyone (public)",
            "network": "Signed-in members only",
            "research": "Research only (never shown)",
        }[self.value]


class StoryState(enum.StrEnum):
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"
    CHANGES_REQUESTED = "changes_requested"
    AWAITING_APPROVAL = "awaiting_approval"  # edited and ready: the storyteller asked to approve first
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return {
            "submitted": "Waiting for review",
            "in_review": "In review",
            "published": "Published",
            "changes_requested": "Changes requested",
            "awaiting_approval": "Waiting for the storyteller's approval",
            "declined": "Not published",
            "withdrawn": "Withdrawn",
        }[self.value]


# Moderation moves (withdrawal is allowed from every state but withdrawn, see withdrawal.py).
STORY_TRANSITIONS: dict[StoryState, set[StoryState]] = {
    StoryState.SUBMITTED: {StoryState.IN_REVIEW},
    StoryState.IN_REVIEW: {
        StoryState.PUBLISHED,
        StoryState.AWAITING_APPROVAL,
        StoryState.CHANGES_REQUESTED,
        StoryState.DECLINED,
    },
    # The storyteller approves (published) or declines the edits (back to moderation).
    StoryState.AWAITING_APPROVAL: {StoryState.PUBLISHED, StoryState.IN_REVIEW},
    StoryState.CHANGES_REQUESTED: {StoryState.SUBMITTED},
    StoryState.PUBLISHED: {StoryState.IN_REVIEW},  # unpublish to look again
    StoryState.DECLINED: set(),
    StoryState.WITHDRAWN: set(),
}


class MediaKind(enum.StrEnum):
    NONE = "none"
    AUDIO = "audio"
    VIDEO = "video"


class ConsentMethod(enum.StrEnum):
    SELF = "self"  # ticked by the storyteller, signed in
    WRITTEN = "written"
    SPOKEN_RECORDED = "spoken_recorded"
    SPOKEN_NOTED = "spoken_noted"

    @property
    def label(self) -> str:
        return {
            "self": "Given online by the storyteller",
            "written": "In writing (signed form)",
            "spoken_recorded": "Spoken, and recorded",
            "spoken_noted": "Spoken, and written down",
        }[self.value]


class Storyteller(Model):
    __tablename__ = "storytellers"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(120), index=True)
    pseudonym: Mapped[str] = mapped_column(sa.String(120), default="")
    email: Mapped[str] = mapped_column(sa.String(254), default="", index=True)
    project_id: Mapped[int | None] = mapped_column(sa.ForeignKey("projects.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # Kept after demographic consent is withdrawn: when, and who recorded it (never the values).
    demographics_withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    demographics_withdrawn_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    user: Mapped[User | None] = relationship(foreign_keys=[user_id], lazy="raise_on_sql")
    project: Mapped[Project | None] = relationship(lazy="raise_on_sql")
    demographics: Mapped[Demographics | None] = relationship(
        back_populates="storyteller", lazy="raise_on_sql", cascade="all, delete-orphan", uselist=False
    )

    @property
    def shown_pseudonym(self) -> str:
        return self.pseudonym or "An anonymous storyteller"


class Demographics(Model):
    """Special-category data, present only while consent to store it is recorded."""

    __tablename__ = "storyteller_demographics"

    id: Mapped[int] = mapped_column(primary_key=True)
    storyteller_id: Mapped[int] = mapped_column(sa.ForeignKey("storytellers.id", ondelete="CASCADE"), unique=True)
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    consent_recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    # How the consent was given. None only for answers stored before the portal asked (migration 0028).
    consent_method: Mapped[ConsentMethod | None] = mapped_column(
        str_enum(ConsentMethod, "demographics_consent_method"), nullable=True
    )
    # Lists of keys (or [PREFER_NOT_TO_SAY]); None or "" means not answered.
    roles: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    sectors: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    lived_experience_areas: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    gender: Mapped[str] = mapped_column(sa.String(60), default="")  # a GENDERS key, self-described text, or PNTS
    lgbtqia: Mapped[str] = mapped_column(sa.String(20), default="")  # yes | no | PNTS | ""
    disability: Mapped[str] = mapped_column(sa.String(20), default="")
    ethnicity: Mapped[str] = mapped_column(sa.String(120), default="")  # as the person describes it
    age: Mapped[int | None] = mapped_column()
    age_prefer_not_to_say: Mapped[bool] = mapped_column(default=False)

    storyteller: Mapped[Storyteller] = relationship(back_populates="demographics")


# The stories each audience's library shows: the partial indexes' conditions (revision 0029)
# and, qualified with the table, the library's own. Literal values, so that both planners see
# that a query's rows are inside the index; on SQLite each column is written ``+column`` (the
# same no-op in the index and the query), which keeps the planner from preferring an index on
# (state, scope, ...) that would make it sort every published story.
LIBRARY_SCOPES = {"public": "= 'public'", "members": "IN ('public', 'network')"}


def library_condition(audience: str, *, dialect: str, table: str = "") -> str:
    mark = "+" if dialect == "sqlite" else ""
    column = f"{mark}{table + '.' if table else ''}"
    return f"{column}state = 'published' AND {column}scope {LIBRARY_SCOPES[audience]}"


class Story(Edited, Model):
    __tablename__ = "stories"
    # Every saved version of what the story says (core.revisions), erased with the story's words.
    __revised__: ClassVar[dict[str, str]] = {
        "title": "Title",
        "summary": "Summary",
        "body": "Story",
        "transcript": "Transcript",
    }
    __table_args__ = (
        # The library: published, by scope, featured first, newest first.
        sa.Index("ix_stories_library", "state", "scope", "featured", "published_at"),
        sa.Index("ix_stories_feed", "state", "scope", "published_at"),  # newest first, for the feed
        sa.Index("ix_stories_state_submitted_at", "state", "submitted_at"),
        # Each audience's library, in its order (revision 0029): visitors', and members'.
        sa.Index(
            "ix_stories_library_public",
            "featured",
            "published_at",
            "id",
            sqlite_where=sa.text(library_condition("public", dialect="sqlite")),
            postgresql_where=sa.text(library_condition("public", dialect="postgresql")),
        ),
        sa.Index(
            "ix_stories_library_members",
            "featured",
            "published_at",
            "id",
            sqlite_where=sa.text(library_condition("members", dialect="sqlite")),
            postgresql_where=sa.text(library_condition("members", dialect="postgresql")),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    storyteller_id: Mapped[int] = mapped_column(sa.ForeignKey("storytellers.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(sa.ForeignKey("projects.id"), index=True)
    # The story's own key (core.keystore): every word below and the media file are sealed with it.
    key_id: Mapped[str | None] = mapped_column(sa.String(32))
    # Sealed text in the columns; ``story.title`` and the rest (SealedText) read and write it plain.
    sealed_title: Mapped[str] = mapped_column("title", sa.Text, default="")
    sealed_summary: Mapped[str] = mapped_column("summary", sa.Text, default="")
    sealed_body: Mapped[str] = mapped_column("body", sa.Text, default="")  # Markdown
    sealed_transcript: Mapped[str] = mapped_column("transcript", sa.Text, default="")
    media_kind: Mapped[MediaKind] = mapped_column(str_enum(MediaKind, "story_media_kind"), default=MediaKind.NONE)
    media_stored_name: Mapped[str | None] = mapped_column(sa.String(64))
    media_content_type: Mapped[str] = mapped_column(sa.String(80), default="")
    sealed_media_link: Mapped[str] = mapped_column("media_link", sa.Text, default="")
    # What the storyteller sent, kept when staff edit out identifying details.
    sealed_original_title: Mapped[str] = mapped_column("original_title", sa.Text, default="")
    sealed_original_summary: Mapped[str] = mapped_column("original_summary", sa.Text, default="")
    sealed_original_body: Mapped[str] = mapped_column("original_body", sa.Text, default="")
    sealed_original_transcript: Mapped[str] = mapped_column("original_transcript", sa.Text, default="")
    edited_by_staff: Mapped[bool] = mapped_column(default=False)
    # Consent
    scope: Mapped[Scope] = mapped_column(str_enum(Scope, "story_scope"), default=Scope.PUBLIC)
    anonymous: Mapped[bool] = mapped_column(default=False)
    consent_method: Mapped[ConsentMethod] = mapped_column(str_enum(ConsentMethod, "story_consent_method"))
    consent_given_on: Mapped[datetime] = mapped_column(UTCDateTime())
    consent_recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    sealed_consent_note: Mapped[str] = mapped_column("consent_note", sa.Text, default="")
    # "Ask me before publishing": staff edits wait for the storyteller's approval.
    ask_before_publishing: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Moderation
    state: Mapped[StoryState] = mapped_column(str_enum(StoryState, "story_state"), default=StoryState.SUBMITTED)
    sealed_moderation_note: Mapped[str] = mapped_column("moderation_note", sa.Text, default="")  # to the storyteller
    # From the storyteller, saying why they declined the edits.
    sealed_approval_note: Mapped[str] = mapped_column("approval_note", sa.Text, default="", server_default="")
    featured: Mapped[bool] = mapped_column(default=False)
    entered_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The tombstone
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    storyteller: Mapped[Storyteller] = relationship(lazy="raise_on_sql")
    project: Mapped[Project | None] = relationship(lazy="raise_on_sql")
    tags: Mapped[list[StoryTag]] = relationship(
        back_populates="story", lazy="raise_on_sql", cascade="all, delete-orphan", order_by="StoryTag.key"
    )

    title = keystore.SealedText()
    summary = keystore.SealedText()
    body = keystore.SealedText()
    transcript = keystore.SealedText()
    original_title = keystore.SealedText()
    original_summary = keystore.SealedText()
    original_body = keystore.SealedText()
    original_transcript = keystore.SealedText()
    # A link to the recording, and notes that can quote the story or name the person: sealed too.
    media_link = keystore.SealedText()
    consent_note = keystore.SealedText()
    moderation_note = keystore.SealedText()
    approval_note = keystore.SealedText()

    def seal(self, purpose: str, text: str) -> str:
        """``text`` sealed with this story's key (made on first use, before the story has an id)."""
        if not text:
            return ""
        if self.key_id is None:
            self.key_id = keystore.create()
        return keystore.seal_text(self.data_key(), text, purpose=f"stories.{purpose}")

    def unseal(self, purpose: str, sealed: str) -> str:
        """The plain text; a withdrawn story, or one whose key is gone, reads as its tombstone."""
        if self.state == StoryState.WITHDRAWN or not sealed or self.key_id is None:
            return WITHDRAWN_TITLE if purpose == "title" and self.state == StoryState.WITHDRAWN else ""
        try:
            return keystore.open_text(keystore.data_key(self.key_id), sealed, purpose=f"stories.{purpose}")
        except keystore.KeyGone:
            return WITHDRAWN_TITLE if purpose == "title" else ""

    def data_key(self) -> bytes:
        try:
            return keystore.data_key(self.key_id or "")
        except keystore.KeyGone as error:
            raise RuleBroken("title", "This story has been withdrawn, so it can no longer be changed.") from error

    @property
    def unreadable(self) -> bool:
        """The key is gone (a withdrawal that did not finish): the story is treated as withdrawn."""
        return self.key_id is not None and not keystore.exists(self.key_id)

    @property
    def themes(self) -> list[str]:
        return [tag.key for tag in self.tags if tag.vocabulary == TagVocabulary.THEME]

    @property
    def values(self) -> list[str]:
        return [tag.key for tag in self.tags if tag.vocabulary == TagVocabulary.VALUE]

    @property
    def author_label(self) -> str:
        """The name shown with the story: the pseudonym when anonymous (needs storyteller loaded)."""
        if self.anonymous:
            return self.storyteller.shown_pseudonym
        return self.storyteller.display_name

    @property
    def has_media(self) -> bool:
        return self.media_kind != MediaKind.NONE or bool(self.media_link)


class TagVocabulary(enum.StrEnum):
    THEME = "theme"
    VALUE = "value"


class StoryTag(Model):
    """One theme (seed 000) or value (seed 001) on a story; indexed for the library's filters."""

    __tablename__ = "story_tags"
    __table_args__ = (
        sa.UniqueConstraint("story_id", "vocabulary", "key"),
        sa.Index("ix_story_tags_lookup", "vocabulary", "key", "story_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    story_id: Mapped[int] = mapped_column(sa.ForeignKey("stories.id", ondelete="CASCADE"))
    vocabulary: Mapped[TagVocabulary] = mapped_column(str_enum(TagVocabulary, "story_tag_vocabulary"))
    key: Mapped[str] = mapped_column(sa.String(40))

    story: Mapped[Story] = relationship(back_populates="tags")


def _seal_revision(story: Story, fields: dict[str, str]) -> dict[str, Any]:
    return {"sealed": story.seal("revision", json.dumps(fields))}


def _open_revision(story: Story, fields: dict[str, Any]) -> dict[str, Any]:
    opened = story.unseal("revision", str(fields.get("sealed", "")))
    found: dict[str, Any] = json.loads(opened) if opened else {}
    return found


# A story's saved versions hold its old words: sealed with the same key, gone with it.
revisions.register_sealing(Story.__tablename__, seal=_seal_revision, open=_open_revision)


@keystore.register_holder
def _story_keys() -> set[str]:
    return set(db.session.scalars(sa.select(Story.key_id).where(Story.key_id.is_not(None))))
