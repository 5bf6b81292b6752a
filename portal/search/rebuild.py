"""``flask --app portal reindex-search``: rebuild the whole index from the records.

Each domain contributes a rebuilder; one whose package is not installed is skipped, so the
search package imports no domain at module level.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import sqlalchemy as sa

from portal.extensions import db
from portal.search.models import SearchDocument


def _posts() -> int:
    from portal.learning import posts
    from portal.learning.models import LearningPost, PostState

    found = list(db.session.scalars(sa.select(LearningPost).where(LearningPost.state == PostState.VISIBLE)))
    for post in found:
        posts.index(post)
    return len(found)


def _pilots() -> int:
    from portal.search.pilots import reindex_all_pilots

    return reindex_all_pilots()


def _stories() -> int:
    if importlib.util.find_spec("portal.stories.indexing") is None:
        return 0
    from portal.stories import indexing

    if hasattr(indexing, "reindex_all"):
        return int(indexing.reindex_all())
    from portal.stories.models import Story, StoryState

    found = list(db.session.scalars(sa.select(Story).where(Story.state == StoryState.PUBLISHED)))
    for story in found:
        indexing.published(story)
    return len(found)


REBUILDERS: dict[str, Callable[[], int]] = {"post": _posts, "pilot": _pilots, "story": _stories}


def rebuild() -> dict[str, int]:
    """Empty the index and fill it again; the caller commits."""
    db.session.execute(sa.delete(SearchDocument))
    counts = {kind: build() for kind, build in REBUILDERS.items()}
    db.session.flush()
    return counts
