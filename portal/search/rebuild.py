"""``flask --app portal.app reindex-search``: rebuild the whole index from the records.

Search is a cross-domain page, so it may import every domain that keeps documents in the index.

On PostgreSQL the index's table is UNLOGGED (revision 0028: its words never reach the
write-ahead log), so a crash of the database empties it; ``search-rebuild`` finds it empty and
fills it again within ten minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa

from portal.core.extensions import db
from portal.core.schedule import job
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


@job("search-rebuild", "Rebuild the search index if it is empty (after a database crash)", every_minutes=10)
def rebuild_if_empty(now: datetime) -> str:
    if db.session.scalar(sa.select(SearchDocument.id).limit(1)) is not None:
        return "The index is in place."
    counts = rebuild()
    return f"The index was empty: {sum(counts.values())} documents indexed again."
