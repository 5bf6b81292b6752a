"""``flask --app portal.app reindex-search``: rebuild the whole index from the records.

Search is a cross-domain page, so it may import every domain that keeps documents in the index.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from portal.core.extensions import db
from portal.core.search.models import SearchDocument
from portal.grants.indexing import reindex_all_pilots
from portal.learning import posts
from portal.learning.models import LearningPost, PostState
from portal.stories import indexing as stories_indexing


def _posts() -> int:
    found = list(db.session.scalars(sa.select(LearningPost).where(LearningPost.state == PostState.VISIBLE)))
    for post in found:
        posts.index(post)
    return len(found)


REBUILDERS: dict[str, Callable[[], int]] = {
    "post": _posts,
    "pilot": reindex_all_pilots,
    "story": stories_indexing.reindex_all,
}


def rebuild() -> dict[str, int]:
    """Empty the index and fill it again; the caller commits."""
    db.session.execute(sa.delete(SearchDocument))
    counts = {kind: build() for kind, build in REBUILDERS.items()}
    db.session.flush()
    return counts
