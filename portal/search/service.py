"""One search across published stories, learning posts and public pilot pages.

Uses the database's own full-text search: FTS5 on SQLite, a GIN-indexed tsvector on
PostgreSQL (both built by migration 0005). Results are ranked with title matches first, then
by relevance (BM25 on SQLite, ts_rank on PostgreSQL), and never include a document the
viewer may not see: visitors get public documents only, signed-in members public and
members-only ones.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from markupsafe import Markup, escape

from portal.extensions import db
from portal.search.documents import KINDS

# Must match the expression indexed by migration 0005, or PostgreSQL will not use the index.
PG_DOCUMENT_VECTOR = (
    "setweight(to_tsvector('english'::regconfig, d.title), 'A') || "
    "setweight(to_tsvector('english'::regconfig, d.body), 'B')"
)
_START, _STOP = "\x02", "\x03"  # snippet markers, turned into <mark> after escaping
MAX_TERMS = 12

KIND_LABELS = {"story": "Story", "post": "Learning post", "pilot": "Pilot project"}


@dataclass(frozen=True)
class Hit:
    kind: str
    object_id: int
    title: str
    url_path: str
    raw_snippet: str

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def snippet(self) -> Markup:
        safe = str(escape(self.raw_snippet))
        return Markup(safe.replace(_START, "<mark>").replace(_STOP, "</mark>"))


@dataclass(frozen=True)
class Results:
    items: list[Hit]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page)) if self.total else 0

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def next_num(self) -> int:
        return self.page + 1

    @property
    def prev_num(self) -> int:
        return self.page - 1

    def iter_pages(self, **_: Any) -> range:
        return range(1, self.pages + 1)


def terms(text: str) -> list[str]:
    """Words only: the user's text never reaches the database's query syntax."""
    return re.findall(r"\w+", (text or "").lower())[:MAX_TERMS]


def audiences_for(viewer: Any) -> list[str]:
    if viewer is not None and getattr(viewer, "is_authenticated", False) and getattr(viewer, "is_active", False):
        return ["public", "members"]
    return ["public"]


def search(text: str, *, viewer: Any, page: int = 1, per_page: int = 20, kind: str = "") -> Results:
    words = terms(text)
    page = max(1, page)
    if not words:
        return Results([], 0, page, per_page)
    kinds = [kind] if kind in KINDS else list(KINDS)
    params: dict[str, Any] = {"audiences": audiences_for(viewer), "kinds": kinds,
                              "limit": per_page, "offset": (page - 1) * per_page}
    if db.engine.dialect.name == "postgresql":
        rows, total = _postgresql(words, params)
    else:
        rows, total = _sqlite(words, params)
    return Results([Hit(r.kind, r.object_id, r.title, r.url_path, r.snip or "") for r in rows], total, page, per_page)


def _expanding(statement: str) -> sa.TextClause:
    return sa.text(statement).bindparams(sa.bindparam("audiences", expanding=True),
                                         sa.bindparam("kinds", expanding=True))


def _sqlite(words: list[str], params: dict[str, Any]) -> tuple[list[Any], int]:
    match = " ".join(f'"{w}"' for w in words)  # every word, each quoted: no FTS5 syntax from users
    params |= {"match": match, "title_match": f"title : ({match})", "start": _START, "stop": _STOP}
    where = ("search_documents_fts MATCH :match AND d.audience IN :audiences AND d.kind IN :kinds")
    rows = db.session.execute(_expanding(f"""
        SELECT d.kind, d.object_id, d.title, d.url_path,
               snippet(search_documents_fts, 1, :start, :stop, '…', 24) AS snip,
               d.id IN (SELECT rowid FROM search_documents_fts WHERE search_documents_fts MATCH :title_match)
                   AS title_hit,
               bm25(search_documents_fts, 10.0, 1.0) AS score
        FROM search_documents_fts JOIN search_documents AS d ON d.id = search_documents_fts.rowid
        WHERE {where}
        ORDER BY title_hit DESC, score, d.id
        LIMIT :limit OFFSET :offset"""), params).all()
    total = db.session.execute(_expanding(f"""
        SELECT count(*) FROM search_documents_fts JOIN search_documents AS d ON d.id = search_documents_fts.rowid
        WHERE {where}"""), params).scalar_one()
    return rows, total


def _postgresql(words: list[str], params: dict[str, Any]) -> tuple[list[Any], int]:
    params |= {"words": " ".join(words),
               "headline": f"StartSel={_START}, StopSel={_STOP}, MaxWords=35, MinWords=12, ShortWord=2"}
    where = (f"({PG_DOCUMENT_VECTOR}) @@ q.query AND d.audience IN :audiences AND d.kind IN :kinds")
    query = "(SELECT plainto_tsquery('english'::regconfig, :words) AS query) AS q"
    rows = db.session.execute(_expanding(f"""
        SELECT d.kind, d.object_id, d.title, d.url_path,
               ts_headline('english'::regconfig, d.body, q.query, :headline) AS snip,
               to_tsvector('english'::regconfig, d.title) @@ q.query AS title_hit,
               ts_rank({PG_DOCUMENT_VECTOR}, q.query) AS score
        FROM search_documents AS d, {query}
        WHERE {where}
        ORDER BY title_hit DESC, score DESC, d.id
        LIMIT :limit OFFSET :offset"""), params).all()
    total = db.session.execute(_expanding(f"""
        SELECT count(*) FROM search_documents AS d, {query} WHERE {where}"""), params).scalar_one()
    return rows, total
