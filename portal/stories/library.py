"""Who may see which story, and the library's query (filters, word search, featured first).

A story is shown only when published, and then by its consent scope: public to everyone,
network to signed-in members, research only to nobody (outside its storyteller and staff).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from portal.core.extensions import db
from portal.core.permissions import is_staff
from portal.core.search import service
from portal.stories.models import Scope, Story, StoryState, StoryTag, Storyteller, TagVocabulary
from portal.teams.models import Project


def _signed_in(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def _is_staff(user: Any) -> bool:
    return is_staff(user)


def visible_scopes(user: Any) -> tuple[Scope, ...]:
    return (Scope.PUBLIC, Scope.NETWORK) if _signed_in(user) else (Scope.PUBLIC,)


def is_published_for(user: Any, story: Story | None) -> bool:
    """The story is in the library for this viewer."""
    return story is not None and story.state == StoryState.PUBLISHED and story.scope in visible_scopes(user)


def owns(user: Any, story: Story | None) -> bool:
    if not _signed_in(user) or story is None:
        return False
    teller = db.session.get(Storyteller, story.storyteller_id)  # no query when already loaded
    return teller is not None and teller.user_id == user.id


def may_view(user: Any, story: Story | None) -> bool:
    """The story page: the library's stories, plus the storyteller's own and (for moderation) staff."""
    if story is None or story.state == StoryState.WITHDRAWN or story.unreadable:
        return False
    return is_published_for(user, story) or _is_staff(user) or owns(user, story)


@dataclass
class Filters:
    theme: str = ""
    value: str = ""
    phase_id: int | None = None
    project_id: int | None = None
    words: str = ""
    storyteller_id: int | None = None  # a storyteller's page: their named (not anonymous) stories


def published_query(user: Any) -> sa.Select[Story]:
    return sa.select(Story).where(Story.state == StoryState.PUBLISHED, Story.scope.in_(visible_scopes(user)))


def _tagged(vocabulary: TagVocabulary, key: str) -> sa.Exists:
    return sa.exists().where(StoryTag.story_id == Story.id, StoryTag.vocabulary == vocabulary, StoryTag.key == key)


def library_query(user: Any, filters: Filters) -> sa.Select[Story]:
    query = published_query(user).options(
        joinedload(Story.storyteller), joinedload(Story.project), selectinload(Story.tags)
    )
    if filters.theme:
        query = query.where(_tagged(TagVocabulary.THEME, filters.theme))
    if filters.value:
        query = query.where(_tagged(TagVocabulary.VALUE, filters.value))
    if filters.project_id is not None:
        query = query.where(Story.project_id == filters.project_id)
    if filters.phase_id is not None:
        query = query.where(Story.project_id.in_(sa.select(Project.id).where(Project.phase_id == filters.phase_id)))
    if filters.storyteller_id is not None:
        query = query.where(Story.storyteller_id == filters.storyteller_id, Story.anonymous.is_(False))
    if filters.words.strip():
        query = query.where(matching_words(filters.words))
    return query.order_by(Story.featured.desc(), Story.published_at.desc(), Story.id.desc())


def matching_words(text: str) -> sa.ColumnElement[bool]:
    """Stories whose indexed words match, through the shared search index (FTS5 on SQLite, the
    stored, GIN-indexed ``search_vector`` column on PostgreSQL), so a word search stays fast
    with 100,000 stories.

    The index holds only published public and network stories, under the pseudonym when
    anonymous, so a storyteller's real name never finds their anonymous story."""
    words = service.terms(text)
    if not words:
        return sa.false()  # only punctuation: nothing can match
    if db.engine.dialect.name == "postgresql":
        matches = sa.text(
            "SELECT d.object_id FROM search_documents AS d WHERE d.kind = 'story' "
            "AND d.search_vector @@ plainto_tsquery('english'::regconfig, :words)"
        ).bindparams(words=" ".join(words))
    else:
        # The MATCH in its own subquery: as a join, SQLite probes FTS once per document instead.
        matches = sa.text(
            "SELECT d.object_id FROM search_documents AS d WHERE d.kind = 'story' AND d.id IN "
            "(SELECT rowid FROM search_documents_fts WHERE search_documents_fts MATCH :match)"
        ).bindparams(match=" ".join(f'"{word}"' for word in words))  # quoted: no FTS syntax from users
    return Story.id.in_(matches.columns(sa.column("object_id", sa.Integer)))


def story_for_page(story_id: int, *, unreadable_too: bool = False) -> Story | None:
    """The story with what its pages show; None when its key is gone (a withdrawal that did not
    finish leaves nothing readable, so every page answers as for a missing story), except to
    withdrawal itself (``unreadable_too``), which finishes the erasure."""
    story = db.session.scalar(
        sa.select(Story)
        .options(joinedload(Story.storyteller), joinedload(Story.project), selectinload(Story.tags))
        .where(Story.id == story_id)
    )
    return None if story is not None and not unreadable_too and story.unreadable else story
