"""One row per searchable thing (story, learning post, public pilot page).

The full-text index lives beside it and is created by the migration, because neither kind of
index can be described portably in a model: on SQLite an FTS5 table ``search_documents_fts``
(kept in step by triggers), on PostgreSQL a GIN index on ``search_vector``, a stored weighted
``tsvector`` column generated from the title and body (revision 0008).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.db import UTCDateTime, str_enum, utcnow
from portal.core.extensions import Model


class Audience(enum.StrEnum):
    PUBLIC = "public"  # everyone, visitors included
    MEMBERS = "members"  # signed-in members only


class SearchDocument(Model):
    __tablename__ = "search_documents"
    __table_args__ = (
        sa.UniqueConstraint("kind", "object_id"),
        sa.Index("ix_search_documents_audience_updated", "audience", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # story | post | pilot
    object_id: Mapped[int]
    title: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    audience: Mapped[Audience] = mapped_column(str_enum(Audience, "search_audience"))
    url_path: Mapped[str] = mapped_column(sa.String(300))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# PostgreSQL only (revision 0008): the stored, generated tsvector the GIN index is built on.
SEARCH_VECTOR_COLUMN = "search_vector"


def not_full_text_index(name: str | None, type_: str, parent_names: Any) -> bool:
    """For Alembic's ``include_name``: the search index is built by hand in revisions 0005 and
    0008 (an FTS5 table and its shadow tables on SQLite; on PostgreSQL a stored, generated
    tsvector column and its GIN index); no model describes it, so comparisons and autogenerate
    leave it alone."""
    if type_ == "column" and name == SEARCH_VECTOR_COLUMN:
        return (parent_names or {}).get("table_name") != SearchDocument.__tablename__
    return not (name or "").startswith(("search_documents_fts", "ix_search_documents_fts"))
