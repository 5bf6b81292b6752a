"""The search index's write side, called by every domain that owns searchable content.

Call ``upsert`` whenever something becomes (or stays) visible and its text changes, and
``remove`` the moment it is hidden, withdrawn or deleted. Both join the caller's transaction:
the index changes only if the caller's change commits.

Whatever leaves the public index (removed, narrowed to members, or retitled, as when a moderator
edits a name out) is also cut from every email still waiting to be sent (``outbox.forget``): an
email leaves the portal, so it may only say what the public index says now.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from portal.core import compaction, outbox
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.search.models import Audience, SearchDocument

KINDS = ("story", "post", "pilot")


def upsert(*, kind: str, object_id: int, title: str, body: str, audience: str, url_path: str) -> None:
    """Add or replace the document for (kind, object_id). ``audience`` is "public" or "members"."""
    with db.session.no_autoflush:
        shown_title = db.session.scalar(
            sa.select(SearchDocument.title).where(SearchDocument.kind == kind, SearchDocument.object_id == object_id)
        )
    if audience != Audience.PUBLIC.value or (shown_title is not None and shown_title != title[:300]):
        outbox.forget(kind, object_id)
        if shown_title is not None:
            compaction.note(kind)  # the old words are still in the index's files until compacted
    _upsert(
        db.session,
        kind=kind,
        object_id=object_id,
        title=title,
        body=body,
        audience=audience,
        url_path=url_path,
        flush=True,
    )


def remove(*, kind: str, object_id: int) -> None:
    """Take the document out of the index at once (hidden, withdrawn, deleted)."""
    outbox.forget(kind, object_id)
    if _remove(db.session, kind=kind, object_id=object_id):
        compaction.note(kind)  # its words leave the database files once this commits


def still_public(kind: str, object_ids: list[int]) -> set[int]:
    """Those of ``object_ids`` the public index still shows (for the outbox's last check)."""
    return set(
        db.session.scalars(
            sa.select(SearchDocument.object_id).where(
                SearchDocument.kind == kind,
                SearchDocument.object_id.in_(object_ids),
                SearchDocument.audience == Audience.PUBLIC,
            )
        )
    )


def _upsert(
    session: Any, *, kind: str, object_id: int, title: str, body: str, audience: str, url_path: str, flush: bool
) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown search document kind {kind!r}")
    chosen = Audience(audience)
    with session.no_autoflush:
        document = session.scalar(
            sa.select(SearchDocument).where(SearchDocument.kind == kind, SearchDocument.object_id == object_id)
        )
    if document is None:
        document = SearchDocument(kind=kind, object_id=object_id)
        session.add(document)
    document.title = title[:300]
    document.body = body
    document.audience = chosen
    document.url_path = url_path
    document.updated_at = utcnow()
    if flush:
        session.flush()


def _remove(session: Any, *, kind: str, object_id: int) -> bool:
    """Delete the document; true when there was one."""
    removed = session.execute(
        sa.delete(SearchDocument).where(SearchDocument.kind == kind, SearchDocument.object_id == object_id),
        execution_options={"synchronize_session": "fetch"},
    )
    return bool(getattr(removed, "rowcount", 0))
