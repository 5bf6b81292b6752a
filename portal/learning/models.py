"""Learning posts, comments, validations ("this resonates"), flags and the moderation setting."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.core.db import UTCDateTime, str_enum, utcnow
from portal.core.edits import Edited
from portal.core.extensions import Model
from portal.teams.models import Project


class Visibility(enum.StrEnum):
    PUBLIC = "public"
    MEMBERS = "members"

    @property
    def label(self) -> str:
        return {"public": "Everyone, including visitors", "members": "Signed-in members only"}[self.value]


class PostState(enum.StrEnum):
    VISIBLE = "visible"
    PENDING = "pending"  # a new member's first post, waiting for staff (pre-moderation)
    HIDDEN = "hidden"  # by flags, pending review, or by staff


class CommentState(enum.StrEnum):
    VISIBLE = "visible"
    HIDDEN = "hidden"


class FlagReason(enum.StrEnum):
    SPAM = "spam"
    OFFENSIVE = "offensive"
    PERSONAL = "personal_information"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "spam": "Spam or advertising",
            "offensive": "Offensive or abusive",
            "personal_information": "Shares someone's personal information",
            "other": "Something else",
        }[self.value]


class FlagOutcome(enum.StrEnum):
    UPHELD = "upheld"  # staff hid the content
    DISMISSED = "dismissed"  # staff kept or restored the content


# The posts a signed-in member's feed shows (every visible one, whatever its audience): the
# partial index's condition (revision 0029) and, qualified, the feed's own. Literal values, so
# both planners see the query is inside the index; on SQLite written ``+state`` (in both), which
# keeps the planner from preferring the visitors' index on (state, visibility, ...) and sorting.
def members_feed_condition(*, dialect: str, table: str = "") -> str:
    return f"{'+' if dialect == 'sqlite' else ''}{table + '.' if table else ''}state = 'visible'"


FEED_PUBLIC_SQL = "learning_posts.state = 'visible' AND learning_posts.visibility = 'public'"  # the visitors' index


class LearningPost(Edited, Model):
    """A post its author writes and changes (``Edited``: a save from a stale form never overwrites)."""

    __tablename__ = "learning_posts"
    __table_args__ = (
        sa.Index("ix_learning_posts_feed", "state", "visibility", "created_at", "id"),  # visitors' feed
        # Members' feed (revision 0029): every visible post, newest first, whatever its audience.
        sa.Index(
            "ix_learning_posts_feed_members",
            "created_at",
            "id",
            sqlite_where=sa.text(members_feed_condition(dialect="sqlite")),
            postgresql_where=sa.text(members_feed_condition(dialect="postgresql")),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int | None] = mapped_column(sa.ForeignKey("projects.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)  # Markdown as written
    body_html: Mapped[str] = mapped_column(sa.Text, default="")  # sanitised when saved
    visibility: Mapped[Visibility] = mapped_column(str_enum(Visibility, "post_visibility"))
    state: Mapped[PostState] = mapped_column(str_enum(PostState, "post_state"), default=PostState.VISIBLE)
    moderation_reason: Mapped[str] = mapped_column(sa.String(500), default="")
    source_report_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("progress_reports.id", ondelete="SET NULL"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    author: Mapped[User] = relationship(foreign_keys=[author_id], lazy="raise_on_sql")
    project: Mapped[Project | None] = relationship(lazy="raise_on_sql")
    # Loaded with the posts in one extra query (never one per post).
    tags: Mapped[list[PostTag]] = relationship(
        back_populates="post",
        lazy="selectin",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="PostTag.id",
    )

    @property
    def tag_set(self) -> frozenset[str]:
        """Every value and theme on the post, as stored ("value:<key>", "theme:<key>")."""
        return frozenset(t.tag for t in self.tags)

    @property
    def value_keys(self) -> list[str]:
        return [t.tag.removeprefix("value:") for t in self.tags if t.tag.startswith("value:")]

    @property
    def theme_keys(self) -> list[str]:
        return [t.tag.removeprefix("theme:") for t in self.tags if t.tag.startswith("theme:")]


class PostTag(Model):
    """A value or theme on a post, stored as "value:<key>" or "theme:<key>" for indexed filters."""

    __tablename__ = "learning_post_tags"
    __table_args__ = (sa.UniqueConstraint("post_id", "tag"), sa.Index("ix_learning_post_tags_tag", "tag", "post_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("learning_posts.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(sa.String(40))

    post: Mapped[LearningPost] = relationship(back_populates="tags")


class Comment(Model):
    __tablename__ = "learning_comments"
    __table_args__ = (sa.Index("ix_learning_comments_thread", "post_id", "parent_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("learning_posts.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("learning_comments.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str] = mapped_column(sa.Text, default="")
    state: Mapped[CommentState] = mapped_column(str_enum(CommentState, "comment_state"), default=CommentState.VISIBLE)
    moderation_reason: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # text erased, replies stay

    author: Mapped[User] = relationship(lazy="raise_on_sql")
    post: Mapped[LearningPost] = relationship(lazy="raise_on_sql")


class Validation(Model):
    """One "this resonates" from one member on one post or one comment (never both)."""

    __tablename__ = "validations"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "post_id"),
        sa.UniqueConstraint("user_id", "comment_id"),
        sa.CheckConstraint("(post_id IS NULL) <> (comment_id IS NULL)", name="one_target"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    post_id: Mapped[int | None] = mapped_column(sa.ForeignKey("learning_posts.id", ondelete="CASCADE"), index=True)
    comment_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("learning_comments.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(lazy="raise_on_sql")


class Flag(Model):
    """A member's report of a post or comment; one per member per item."""

    __tablename__ = "flags"
    __table_args__ = (
        sa.UniqueConstraint("reporter_id", "post_id"),
        sa.UniqueConstraint("reporter_id", "comment_id"),
        sa.CheckConstraint("(post_id IS NULL) <> (comment_id IS NULL)", name="one_target"),
        sa.Index("ix_flags_open", "resolved_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reporter_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    post_id: Mapped[int | None] = mapped_column(sa.ForeignKey("learning_posts.id", ondelete="CASCADE"), index=True)
    comment_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("learning_comments.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[FlagReason] = mapped_column(str_enum(FlagReason, "flag_reason"))
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    outcome: Mapped[FlagOutcome | None] = mapped_column(str_enum(FlagOutcome, "flag_outcome"))

    reporter: Mapped[User] = relationship(foreign_keys=[reporter_id], lazy="raise_on_sql")


class ModerationSettings(Model):
    """The network's moderation switches: a single row, id 1."""

    __tablename__ = "moderation_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    premoderate_first_posts: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
