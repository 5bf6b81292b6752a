"""One row per searchable thing (story, learning post, public pilot page).

The full-text index lives beside it and is created by the migration, because neither kind of
index can be described portably in a model: on SQLite an FTS5 table ``search_documents_fts``
(kept in step by triggers), on PostgreSQL a GIN index on a weighted ``tsvector`` expression.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import UTCDateTime, str_enum, utcnow
from portal.extensions import db


class Audience(enum.StrEnum):
    PUBLIC = "public"  # everyone, visitors included
    MEMBERS = "members"  # signed-in members only


class SearchDocument(db.Model):
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


def not_full_text_index(name: str | None, type_: str, parent_names: object) -> bool:
    """For Alembic's ``include_name``: the search index is built by hand in revision 0005 (an FTS5
    table and its shadow tables on SQLite, a GIN expression index on PostgreSQL); no model
    describes it, so comparisons and autogenerate leave it alone."""
    return not (name or "").startswith(("search_documents_fts", "ix_search_documents_fts"))
