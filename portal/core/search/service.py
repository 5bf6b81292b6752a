"""One search across published stories, learning posts and public pilot pages.

Uses the database's own full-text search: FTS5 on SQLite (built by migration 0005), a stored,
GIN-indexed tsvector column on PostgreSQL (migration 0008). Results are ranked with title
matches first, then by relevance (BM25 on SQLite, ts_rank on PostgreSQL), and never include a
document the viewer may not see: visitors get public documents only, signed-in members public
and members-only ones. The work is bounded for a word found in nearly every document: counting
stops after MAX_COUNTED matches, and then only the MAX_RANKED newest matches are ranked.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from markupsafe import Markup, escape

from portal.core.extensions import db
from portal.core.search.documents import KINDS

_START, _STOP = "\x02", "\x03"  # snippet markers, turned into <mark> after escaping
MAX_TERMS = 12
# Counting stops here: a word found in nearly every document is reported as "more than 1,000
# results" (and paged that far) rather than counted and ranked across 100,000 documents.
MAX_COUNTED = 1000
# Ranking is bounded too: when a search matches more than MAX_COUNTED documents, only the
# MAX_RANKED most recently added matches are ranked (title matches first, then relevance).
# Ranking all 100,000 documents that share a common word took 100-200 ms and grows with the
# index; ranking 5,000 takes a few milliseconds.
MAX_RANKED = 5000

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
    more: bool = False  # there are more than ``total`` results; they were not counted

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

    def iter_pages(
        self, left_edge: int = 2, left_current: int = 2, right_current: int = 4, right_edge: int = 2
    ) -> list[int | None]:
        """Page numbers near the edges and the current page, ``None`` for each gap (as
        Flask-SQLAlchemy's pagination does), so fifty pages of results are not fifty links."""
        shown: list[int | None] = []
        for number in range(1, self.pages + 1):
            if (
                number <= left_edge
                or number > self.pages - right_edge
                or self.page - left_current <= number <= self.page + right_current
            ):
                if shown and shown[-1] is not None and number - shown[-1] > 1:
                    shown.append(None)
                shown.append(number)
        return shown


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
    params: dict[str, Any] = {
        "audiences": audiences_for(viewer),
        "kinds": kinds,
        "limit": per_page,
        "offset": (page - 1) * per_page,
        "counted": MAX_COUNTED + 1,
        "ranked": MAX_RANKED,
        "floor": 0,
    }
    if (page - 1) * per_page >= MAX_COUNTED:  # past the last page offered: nothing to rank
        params["limit"] = 0
    if db.engine.dialect.name == "postgresql":
        rows, total = _postgresql(words, params)
    else:
        rows, total = _sqlite(words, params)
    hits = [Hit(r.kind, r.object_id, r.title, r.url_path, r.snip or "") for r in rows]
    return Results(hits, min(total, MAX_COUNTED), page, per_page, more=total > MAX_COUNTED)


def ranked_ids(text: str, *, viewer: Any, kind: str, limit: int = MAX_COUNTED) -> list[int]:
    """The ids of the ``kind`` documents a search for ``text`` finds for this viewer, best first
    (the same bounded ranking as ``search``: title matches, then relevance, among at most the
    newest ``MAX_RANKED`` matches), at most ``limit``; no snippets. For a list that searches one
    kind of thing with filters of its own (the story library): it keeps those it shows."""
    words = terms(text)
    if not words or kind not in KINDS:
        return []
    params: dict[str, Any] = {
        "audiences": audiences_for(viewer),
        "kinds": [kind],
        "limit": min(limit, MAX_COUNTED),
        "offset": 0,
        "counted": MAX_COUNTED + 1,
        "ranked": MAX_RANKED,
        "floor": 0,
    }
    if db.engine.dialect.name == "postgresql":
        rows, _total = _postgresql(words, params, snippets=False)
    else:
        rows, _total = _sqlite(words, params, snippets=False)
    return [row.object_id for row in rows]


def _expanding(statement: str, *names: str) -> sa.TextClause:
    return sa.text(statement).bindparams(*(sa.bindparam(name, expanding=True) for name in names))


def _sqlite(words: list[str], params: dict[str, Any], *, snippets: bool = True) -> tuple[Sequence[Any], int]:
    """Steps each led by the FTS5 table, so SQLite never probes the index once per document: the
    bounded count; for a very common word, the id below which nothing is ranked; the page of ids
    (title matches first, then BM25) among the documents this viewer may see; their snippets;
    then their rows. Visibility is checked per match by primary key (an EXISTS):
    as a join or an ``IN`` constraint SQLite would run the MATCH once per allowed document, and
    an ``IN`` over the allowed ids would build that whole set (60 ms at 100,000) on every search."""
    match = " ".join(f'"{w}"' for w in words)  # every word, each quoted: no FTS5 syntax from users
    params |= {"match": match, "title_match": f"title : ({match})", "start": _START, "stop": _STOP}
    every_document = set(params["audiences"]) == {"public", "members"} and set(params["kinds"]) == set(KINDS)
    visible = (
        ""
        if every_document
        else (
            " AND EXISTS (SELECT 1 FROM search_documents AS d WHERE d.id = search_documents_fts.rowid"
            " AND d.audience IN :audiences AND d.kind IN :kinds)"
        )
    )
    names = () if every_document else ("audiences", "kinds")
    total = db.session.execute(
        _expanding(
            f"""
        SELECT count(*) FROM (SELECT 1 FROM search_documents_fts
                              WHERE search_documents_fts MATCH :match{visible} LIMIT :counted)""",
            *names,
        ),
        params,
    ).scalar_one()
    if not total or not params["limit"]:
        return [], total
    if total > MAX_COUNTED:  # a very common word: rank only the newest MAX_RANKED matches
        params["floor"] = db.session.execute(
            _expanding(
                f"""
            SELECT min(id) FROM (SELECT rowid AS id FROM search_documents_fts
                                 WHERE search_documents_fts MATCH :match{visible}
                                 ORDER BY rowid DESC LIMIT :ranked)""",
                *names,
            ),
            params,
        ).scalar_one()
    ranked = db.session.execute(
        _expanding(
            f"""
        SELECT rowid AS id,
               rowid IN (SELECT rowid FROM search_documents_fts
                         WHERE search_documents_fts MATCH :title_match AND rowid >= :floor) AS title_hit,
               bm25(search_documents_fts, 10.0, 1.0) AS score
        FROM search_documents_fts
        WHERE search_documents_fts MATCH :match AND rowid >= :floor{visible}
        ORDER BY title_hit DESC, score, id
        LIMIT :limit OFFSET :offset""",
            *names,
        ),
        params,
    ).all()
    ids = [row.id for row in ranked]
    if not ids:
        return [], total
    shown: dict[int, str] = (
        dict(
            db.session.execute(
                _expanding(
                    """
        SELECT rowid, snippet(search_documents_fts, 1, :start, :stop, '…', 24) FROM search_documents_fts
        WHERE search_documents_fts MATCH :match AND rowid IN :ids""",
                    "ids",
                ),
                params | {"ids": ids},
            ).all()
        )
        if snippets
        else {}
    )
    found = {
        row.id: row
        for row in db.session.execute(
            _expanding("SELECT id, kind, object_id, title, url_path FROM search_documents WHERE id IN :ids", "ids"),
            {"ids": ids},
        ).all()
    }
    rows = [
        SimpleNamespace(
            kind=found[i].kind,
            object_id=found[i].object_id,
            title=found[i].title,
            url_path=found[i].url_path,
            snip=shown.get(i, ""),
        )
        for i in ids
        if i in found
    ]
    return rows, total


def _postgresql(words: list[str], params: dict[str, Any], *, snippets: bool = True) -> tuple[Sequence[Any], int]:
    """Matches, ranks and the title test all read the stored ``search_vector`` (revision 0008):
    no document's text is parsed again at search time. Only the page's rows get a headline."""
    params |= {
        "words": " ".join(words),
        "headline": f"StartSel={_START}, StopSel={_STOP}, MaxWords=35, MinWords=12, ShortWord=2",
    }
    query = "(SELECT plainto_tsquery('english'::regconfig, :words) AS query) AS q"
    snip = "ts_headline('english'::regconfig, d.body, q.query, :headline)" if snippets else "''"
    where = "d.search_vector @@ q.query AND d.audience IN :audiences AND d.kind IN :kinds"
    total = db.session.execute(
        _expanding(
            f"""
        SELECT count(*) FROM (SELECT 1 FROM search_documents AS d, {query} WHERE {where} LIMIT :counted) AS m""",
            "audiences",
            "kinds",
        ),
        params,
    ).scalar_one()
    if not total or not params["limit"]:
        return [], total
    if total > MAX_COUNTED:  # a very common word: rank only the newest MAX_RANKED matches
        params["floor"] = db.session.execute(
            _expanding(
                f"""
            SELECT min(id) FROM (SELECT d.id FROM search_documents AS d, {query} WHERE {where}
                                 ORDER BY d.id DESC LIMIT :ranked) AS newest""",
                "audiences",
                "kinds",
            ),
            params,
        ).scalar_one()
    rows = db.session.execute(
        _expanding(
            f"""
        SELECT d.kind, d.object_id, d.title, d.url_path,
               {snip} AS snip
        FROM (SELECT d.id, ts_filter(d.search_vector, '{{a}}') @@ q.query AS title_hit,
                     ts_rank(d.search_vector, q.query) AS score
              FROM search_documents AS d, {query}
              WHERE {where} AND d.id >= :floor
              ORDER BY title_hit DESC, score DESC, d.id
              LIMIT :limit OFFSET :offset) AS page
        JOIN search_documents AS d ON d.id = page.id, {query}
        ORDER BY page.title_hit DESC, page.score DESC, d.id""",
            "audiences",
            "kinds",
        ),
        params,
    ).all()
    return rows, total
