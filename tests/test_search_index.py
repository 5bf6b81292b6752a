"""The search index's shape per database, and the bounds that keep a search fast at 100,000 documents."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.core.search import documents, service
from portal.core.search.models import not_full_text_index
from portal.core.search.service import Results, search
from tests.helpers import count_queries


class Visitor:
    is_authenticated = False
    is_active = False


def _add(number: int, title: str, body: str, audience: str = "public", kind: str = "story") -> None:
    documents.upsert(
        kind=kind, object_id=number, title=title, body=body, audience=audience, url_path=f"/{kind}s/{number}"
    )


def test_postgresql_searches_a_stored_generated_column_and_sqlite_its_fts5_table(app: Any) -> None:
    _add(1, "Kitchen garden notes", "We grew beans behind the hall and shared them.")
    _add(2, "Notes from March", "A kitchen, a kettle, a kitchen table: kitchen talk all afternoon.")
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        generated = db.session.execute(
            sa.text(
                "SELECT is_generated, data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = 'search_documents' "
                "AND column_name = 'search_vector'"
            )
        ).one()
        assert tuple(generated) == ("ALWAYS", "tsvector")
        index = db.session.execute(
            sa.text(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                "AND indexname = 'ix_search_documents_fts'"
            )
        ).scalar_one()
        assert "gin (search_vector)" in index and "to_tsvector" not in index
        # The column follows the text it is generated from.
        db.session.execute(sa.text("UPDATE search_documents SET title = 'Allotment notes' WHERE object_id = 1"))
        assert (
            db.session.execute(sa.text("SELECT search_vector::text FROM search_documents WHERE object_id = 1"))
            .scalar_one()
            .startswith("'allot'")
        )
        db.session.execute(sa.text("UPDATE search_documents SET title = 'Kitchen garden notes' WHERE object_id = 1"))
    else:
        columns = {column["name"] for column in sa.inspect(db.engine).get_columns("search_documents")}
        assert "search_vector" not in columns
        assert (
            db.session.execute(
                sa.text("SELECT count(*) FROM search_documents_fts WHERE search_documents_fts MATCH 'kitchen'")
            ).scalar_one()
            == 2
        )
    # Either way, a title match ranks above a body that repeats the word.
    assert [hit.title for hit in search("kitchen", viewer=Visitor()).items] == [
        "Kitchen garden notes",
        "Notes from March",
    ]


def test_the_search_statements_use_the_index_not_the_text(app: Any) -> None:
    _add(1, "Otters", "otters by the river")
    db.session.commit()
    with count_queries() as statements:
        assert [hit.title for hit in search("otters", viewer=Visitor()).items] == ["Otters"]
    text = " ".join(statements)
    if db.engine.dialect.name == "postgresql":
        assert "search_vector @@" in text and "to_tsvector" not in text
    else:
        # Never a join that makes SQLite run the MATCH once per document.
        assert "search_documents_fts MATCH" in text and "JOIN search_documents" not in text


def test_alembic_comparisons_ignore_only_the_search_index(app: Any) -> None:
    assert not not_full_text_index("search_vector", "column", {"table_name": "search_documents"})
    assert not_full_text_index("search_vector", "column", {"table_name": "learning_posts"})
    assert not not_full_text_index("ix_search_documents_fts", "index", {"table_name": "search_documents"})
    assert not not_full_text_index("search_documents_fts_data", "table", {})
    assert not_full_text_index("search_documents", "table", {})
    assert not_full_text_index("title", "column", {"table_name": "search_documents"})


def test_counting_stops_at_the_cap_and_says_more(app: Any, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "MAX_COUNTED", 3)
    for number in range(5):
        _add(number, f"Heron {number}", "herons at dawn")
    _add(9, "A heron seen by members", "herons", audience="members")
    db.session.commit()
    results = search("heron", viewer=Visitor(), per_page=2)
    assert (results.total, results.more, results.pages, len(results.items)) == (3, True, 2, 2)
    assert len(search("heron", viewer=Visitor(), per_page=2, page=2).items) == 2  # the cap limits the count
    assert search("heron", viewer=Visitor(), per_page=2, page=3).items == []  # past the pages offered
    page = client.get("/search?q=heron").get_data(as_text=True)
    assert "More than 3 results" in page
    monkeypatch.setattr(service, "MAX_COUNTED", 10)
    exact = search("heron", viewer=Visitor(), per_page=2)
    assert (exact.total, exact.more) == (5, False)  # visitors never count members-only documents
    assert "5 results" in client.get("/search?q=heron").get_data(as_text=True)


def test_pages_keep_the_ranking_and_each_hit_its_own_snippet(app: Any) -> None:
    for number in range(5):
        _add(
            number,
            f"Walk {number}" if number % 2 else f"Notes {number}",
            f"walk number {number} " + "filler " * number,
            kind="post",
        )
    _add(7, "Members walk", "walk", audience="members", kind="post")
    _add(8, "Walk story", "walk", kind="story")
    db.session.commit()
    seen = []
    for page in (1, 2, 3, 4):
        for hit in search("walk", viewer=Visitor(), per_page=2, page=page, kind="post").items:
            number = hit.url_path.rsplit("/", 1)[1]
            assert f"number {number}" in hit.raw_snippet.replace("\x02", "").replace("\x03", "")
            seen.append(hit.title)
    assert seen[:2] == ["Walk 1", "Walk 3"] and sorted(seen[2:]) == ["Notes 0", "Notes 2", "Notes 4"]


def test_page_numbers_leave_gaps_for_long_results() -> None:
    assert Results([], 1000, 1, 20).iter_pages(left_edge=1, left_current=2, right_current=2, right_edge=1) == [
        1,
        2,
        3,
        None,
        50,
    ]
    assert Results([], 1000, 25, 20).iter_pages(left_edge=1, left_current=2, right_current=2, right_edge=1) == [
        1,
        None,
        23,
        24,
        25,
        26,
        27,
        None,
        50,
    ]
    assert Results([], 60, 2, 20).iter_pages() == [1, 2, 3]


def test_a_very_common_word_ranks_only_the_newest_matches(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "MAX_COUNTED", 2)
    monkeypatch.setattr(service, "MAX_RANKED", 3)
    _add(1, "Swift", "an old swift post")  # the best match (a title), but not among the newest three
    for number in range(2, 6):
        _add(number, f"Notes {number}", "swift" + " filler" * number)
    _add(6, "Swift for members", "swift", audience="members")  # newest, but not the visitor's
    db.session.commit()
    results = search("swift", viewer=Visitor(), per_page=10)
    assert results.more and [hit.title for hit in results.items] == ["Notes 3", "Notes 4", "Notes 5"]
    monkeypatch.setattr(service, "MAX_COUNTED", 10)  # counted in full: everything is ranked
    assert [hit.title for hit in search("swift", viewer=Visitor(), per_page=10).items][:1] == ["Swift"]
