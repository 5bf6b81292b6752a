"""A withdrawn story's words leave the database files, not only the tables.

On SQLite the test database is a file (a copy per test, see conftest.py), so the raw bytes of
the main file, ``-wal`` and ``-shm`` are read back. On PostgreSQL the search row goes at once
and the ``erasure-purge`` job vacuums; where the test can read the data directory (it runs as
root here), the search index table's files are read back too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import selectinload

from portal.accounts.models import User
from portal.core import compaction, schedule
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.schedule import RunState, TaskRun
from portal.core.search import documents
from portal.core.search.models import SearchDocument
from portal.learning import posts
from portal.stories import withdrawal
from portal.stories.models import Story
from tests import factories
from tests import stories_factories as make
from tests.helpers import TEST_DATABASE_URL, run_tasks

# Each canary starts with letters no other word in the database starts with, so FTS5's prefix
# compression (a term stored as what differs from the one before it) cannot hide its middle.
CANARIES = ("zzqcanarytitle", "zzwcanarysummary", "zzxcanarybody", "zzjcanarytranscript")
STORED = [word[3:].encode() for word in CANARIES]  # what any stored copy must contain


def _canary_story(users: dict[str, Any]) -> Story:
    teller = make.storyteller(user=users["member"], by=users["member"])
    title, summary, body, transcript = CANARIES
    return make.story(
        teller,
        by=users["member"],
        staff=users["staff"],
        title=f"Heron {title}",
        summary=f"About {summary}.",
        body=f"The {body} of it.",
        transcript=f"Said {transcript}.",
    )


def _sqlite_files() -> list[Path]:
    main = Path(db.engine.url.database or "")
    return [main, Path(f"{main}-wal"), Path(f"{main}-shm")]


def _found_in(files: list[Path]) -> dict[str, int]:
    """How many times each canary's stored part appears in the raw bytes of each file."""
    found: dict[str, int] = {}
    for path in files:
        data = path.read_bytes().lower() if path.exists() else b""
        found[path.name] = sum(data.count(word) for word in STORED)
    return found


def _withdraw(story_id: int, by_id: int) -> None:
    loaded = db.session.scalars(sa.select(Story).options(selectinload(Story.tags)).where(Story.id == story_id))
    withdrawal.withdraw(loaded.one(), by=db.session.get_one(User, by_id))
    db.session.commit()
    db.session.close()  # nothing of this test holds the database open while the files are compacted


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="the SQLite files; PostgreSQL has its own test below")
def test_sqlite_files_hold_no_withdrawn_words_after_the_compaction(app: Flask, users: dict[str, Any]) -> None:
    story_id = _canary_story(users).id
    assert db.session.scalar(sa.text("PRAGMA secure_delete")) == 1  # the app sets it on every connection
    files = _sqlite_files()
    assert sum(_found_in(files).values()) > 0  # indexed: the words are in the files

    _withdraw(story_id, users["staff"].id)
    # Withdrawn and gone from every table, yet FTS5's segments and the WAL still hold the words
    # until the compaction queued after the commit has run.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SearchDocument)) == 0
    assert sum(_found_in(files).values()) > 0
    assert compaction.pending() == 1

    assert run_tasks() >= 1
    assert _found_in(files) == {name.name: 0 for name in files}
    assert files[1].stat().st_size == 0  # the WAL was emptied by the checkpoint

    # The hourly purge finds the erasure recorded and clears it; the files stay clean.
    run_id = schedule.run_now("erasure-purge", utcnow()).id
    db.session.commit()
    db.session.close()
    run_tasks()
    finished = db.session.get(TaskRun, run_id)
    assert finished is not None and finished.state == RunState.SUCCEEDED, finished.error if finished else ""
    assert finished.result.startswith("1 erasures")
    assert compaction.pending() == 0
    assert _found_in(files) == {name.name: 0 for name in files}
    assert schedule.JOBS["erasure-rewrite"].run(utcnow()).startswith("Nothing to do on this database")


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="the SQLite files; PostgreSQL has its own test below")
def test_a_deleted_posts_words_leave_the_sqlite_files(app: Flask, users: dict[str, Any]) -> None:
    # In the body only: the audit entry of a deletion keeps the post's title (see the report).
    post = factories.make_post(users["member"], body=f"We learned {CANARIES[2]} together.")
    files = _sqlite_files()
    assert sum(_found_in(files).values()) > 0
    posts.delete_post(post, by=users["member"])
    db.session.commit()
    db.session.close()
    assert compaction.pending() == 1 and sum(_found_in(files).values()) > 0
    run_tasks()
    assert _found_in(files) == {name.name: 0 for name in files}


def test_a_retitled_document_counts_as_an_erasure(app: Flask) -> None:
    documents.upsert(kind="post", object_id=7, title="A name", body="b", audience="public", url_path="/p/7")
    db.session.commit()
    assert compaction.pending() == 0
    documents.upsert(kind="post", object_id=7, title="[name removed]", body="b", audience="public", url_path="/p/7")
    db.session.commit()
    assert compaction.pending() == 1  # the old title is still in the index's files until compacted


def test_removing_what_was_never_indexed_records_no_erasure(app: Flask) -> None:
    documents.remove(kind="story", object_id=12345)
    db.session.commit()
    assert compaction.pending() == 0
    assert run_tasks() == 0


def test_the_purge_does_nothing_without_an_erasure(app: Flask) -> None:
    assert schedule.JOBS["erasure-purge"].run(utcnow()) == "Nothing erased since the last run."


def _relation_files(table: str) -> list[Path]:
    """The table's heap, its TOAST table and every index on either, in the data directory."""
    data_directory = Path(db.session.scalar(sa.text("SHOW data_directory")) or "")
    relations = db.session.scalars(
        sa.text(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c WHERE c.oid = CAST(:t AS regclass)"
            " OR c.oid = (SELECT reltoastrelid FROM pg_class WHERE oid = CAST(:t AS regclass))"
            " OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = CAST(:t AS regclass)"
            "   OR indrelid = (SELECT reltoastrelid FROM pg_class WHERE oid = CAST(:t AS regclass)))"
        ),
        {"t": table},
    ).all()
    return [data_directory / path for path in relations if path]


def _flush_buffers() -> None:
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("CHECKPOINT")  # write shared buffers to the table's files


def _run(job_name: str) -> TaskRun:
    run_id = schedule.run_now(job_name, utcnow()).id
    db.session.commit()
    db.session.close()
    run_tasks()
    finished = db.session.get(TaskRun, run_id)
    assert finished is not None and finished.state == RunState.SUCCEEDED, finished.error if finished else ""
    return finished


def _words_in_search_files() -> dict[str, int]:
    _flush_buffers()
    db.session.close()
    return _found_in(_relation_files("search_documents"))


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="PostgreSQL's VACUUM; SQLite has its own test above")
@pytest.mark.parametrize("hourly", [False, True], ids=["rewritten-nightly", "rewritten-hourly"])
def test_postgresql_purge_vacuums_and_the_index_files_hold_no_withdrawn_words(app_factory: Any, hourly: bool) -> None:
    app = app_factory(ERASURE_REWRITE_HOURLY=hourly)
    with app.app_context():
        users = factories.one_of_each_role()
        story_id = _canary_story(users).id
        staff_id = users["staff"].id
        # Where the test can read the data directory (it runs as root here), read the files.
        readable = all(path.is_file() for path in _relation_files("search_documents"))
        if readable:
            assert sum(_words_in_search_files().values()) > 0

        _withdraw(story_id, staff_id)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SearchDocument)) == 0  # gone at once
        assert compaction.pending() == 1
        if readable:
            assert sum(_words_in_search_files().values()) > 0  # a dead row version, until vacuumed

        purged = _run("erasure-purge")
        assert "vacuumed" in purged.result and "checkpoint done" in purged.result
        assert ("rewritten in full" in purged.result) is hourly
        assert _run("erasure-purge").result == "Nothing erased since the last run."  # vacuumed once
        assert compaction.pending() == (0 if hourly else 1)  # the nightly rewrite is still to come
        if not hourly:
            rewritten = _run("erasure-rewrite")
            assert "search_documents rewritten in full" in rewritten.result
            assert compaction.pending() == 0
        assert _run("erasure-rewrite").result == "Nothing erased since the last run."
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SearchDocument)) == 0
        if readable:
            assert _words_in_search_files() == {path.name: 0 for path in _relation_files("search_documents")}
