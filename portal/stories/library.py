"""Who may see which story, and the library's query (filters, word search, featured first).

A story is shown only when published, and then by its consent scope: public to everyone,
network to signed-in members, research only to nobody (outside its storyteller and staff).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from portal.core import keyset
from portal.core.extensions import db
from portal.core.permissions import is_staff
from portal.core.search import service
from portal.stories.models import (
    Scope,
    Story,
    StoryState,
    StoryTag,
    Storyteller,
    TagVocabulary,
    library_condition,
)
from portal.teams.models import Project

PROJECT_CHOICES = 10  # projects offered for a typed name; more means "type more of the name"


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


# Each audience's library is read from a partial index holding exactly its stories, in the
# library's order (featured first, newest first, then id): no sort and no scan past the page,
# however many stories there are. The conditions are written out as literal SQL, identical to
# the indexes' own (``models.library_condition``), so that both planners can
# prove a query is inside an index (a bound parameter would hide the value from them).
def _visible(user: Any) -> sa.TextClause:
    audience = "members" if _signed_in(user) else "public"
    return sa.text(library_condition(audience, dialect=db.engine.dialect.name, table="stories"))


def published_query(user: Any) -> sa.Select[Story]:
    return sa.select(Story).where(_visible(user))


def _tagged(vocabulary: TagVocabulary, key: str) -> sa.Exists:
    return sa.exists().where(StoryTag.story_id == Story.id, StoryTag.vocabulary == vocabulary, StoryTag.key == key)


def filtered(user: Any, filters: Filters) -> sa.Select[Story]:
    """The stories this viewer's library shows for ``filters``, unordered, without word search."""
    query = published_query(user)
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
    return query


def _shown(query: sa.Select[Story]) -> sa.Select[Story]:
    return query.options(joinedload(Story.storyteller), joinedload(Story.project), selectinload(Story.tags))


def library_query(user: Any, filters: Filters) -> sa.Select[Story]:
    query = _shown(filtered(user, filters))
    if filters.words.strip():
        query = query.where(Story.id.in_(word_matches(filters.words, user)))
    return query.order_by(Story.featured.desc(), Story.published_at.desc(), Story.id.desc())


# The library's order, as keyset keys: featured first, newest first, then id (all descending).
LIBRARY_KEYS = (
    keyset.Key(Story.featured, bool),
    keyset.Key(Story.published_at, datetime),
    keyset.Key(Story.id, int),
)
RANK_KEYS = (keyset.Key(Story.id, int),)  # a word search's cursor: the place in its ranking


def _library_values(story: Story) -> tuple[Any, ...]:
    return (story.featured, story.published_at, story.id)


@dataclass
class LibraryPage:
    items: list[Story]
    older: str | None
    newer: str | None
    total: int  # counted up to COUNT_CAP + 1
    ranked: bool = False  # a word search: best matches first

    @property
    def more_than_cap(self) -> bool:
        return self.total > keyset.COUNT_CAP

    @property
    def shown_total(self) -> int:
        return min(self.total, keyset.COUNT_CAP)


def library_page(
    user: Any, filters: Filters, *, after: str | None = None, before: str | None = None, per_page: int = 25
) -> LibraryPage:
    """One page of the library, after or before a cursor; ``keyset.BadCursor`` for a forged one.

    Without words: a keyset page in library order and a count capped at ``COUNT_CAP`` (three
    queries, plus the tags). With words: the site search's bounded ranking picks at most
    ``MAX_COUNTED`` candidates, best first; one query keeps those this viewer's library shows
    with these filters, and the page is a slice of them (the cursor is a place in the ranking)."""
    if filters.words.strip():
        return _ranked_page(user, filters, after=after, before=before, per_page=per_page)
    query = filtered(user, filters)
    page = keyset.paginate(
        _shown(query), LIBRARY_KEYS, values_of=_library_values, after=after, before=before, per_page=per_page
    )
    return LibraryPage(page.items, page.older, page.newer, keyset.capped_count(query, Story.id))


def _ranked_page(user: Any, filters: Filters, *, after: str | None, before: str | None, per_page: int) -> LibraryPage:
    place = 0
    if after:
        place = keyset.decode(after, RANK_KEYS)[0]
    elif before:
        place = max(0, keyset.decode(before, RANK_KEYS)[0] - per_page)
    candidates = service.ranked_ids(filters.words, viewer=user, kind="story")
    kept = (
        set(db.session.scalars(filtered(user, filters).where(Story.id.in_(candidates)).with_only_columns(Story.id)))
        if candidates
        else set()
    )
    ordered = [story_id for story_id in candidates if story_id in kept]
    shown_ids = ordered[place : place + per_page]
    found = {
        story.id: story
        for story in (
            db.session.scalars(_shown(sa.select(Story).where(Story.id.in_(shown_ids)))).unique() if shown_ids else []
        )
    }
    items = [found[story_id] for story_id in shown_ids if story_id in found]
    older = keyset.encode([place + per_page]) if place + per_page < len(ordered) else None
    newer = keyset.encode([place]) if place > 0 else None
    return LibraryPage(items, older, newer, len(ordered), ranked=True)


def word_matches(text: str, user: Any) -> list[int]:
    """The ids of the stories a word search finds for this viewer, best first, at most
    ``service.MAX_COUNTED`` (the site search's bounded ranking: only the newest
    ``MAX_RANKED`` matches of a very common word are ranked).

    The index holds only published public and network stories, under the pseudonym when
    anonymous, so a storyteller's real name never finds their anonymous story."""
    return service.ranked_ids(text, viewer=user, kind="story")


def matching_projects(text: str, user: Any, *, limit: int = PROJECT_CHOICES) -> list[tuple[int, str]]:
    """Projects whose title contains ``text`` and that have a story in this viewer's library,
    by title, at most ``limit`` + 1 (so a page can say there are more)."""
    words = text.strip()[:100]
    if not words:
        return []
    pattern = "%" + words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    has_story = published_query(user).where(Story.project_id == Project.id).with_only_columns(Story.id).exists()
    rows = db.session.execute(
        sa.select(Project.id, Project.title)
        .where(Project.title.ilike(pattern, escape="\\"), has_story)
        .order_by(Project.title, Project.id)
        .limit(limit + 1)
    ).all()
    return [(row.id, row.title) for row in rows]


def project_title(project_id: int | None) -> str | None:
    if project_id is None:
        return None
    return db.session.scalar(sa.select(Project.title).where(Project.id == project_id))


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
