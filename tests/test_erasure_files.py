"""A withdrawn story's words leave the database files, not only the tables.

On SQLite the test database is a file (a copy per test, see conftest.py), so the raw bytes of
the main file, ``-wal`` and ``-shm`` are read back. On PostgreSQL the search row goes at once
and the ``erasure-purge`` job vacuums; where the test can read the data directory (it runs as
root here), the search index table's files are read back too.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import selectinload

from portal.accounts.models import User
from portal.core import compaction, schedule
from portal.core.compaction import PendingErasure
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.schedule import RunState, TaskRun
from portal.core.search import documents
from portal.core.search.models import SearchDocument
from portal.core.tasks import queue
from portal.learning import posts
from portal.learning.models import LearningPost
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


def _run(job_name: str) -> TaskRun:
    """Run the job now, as staff's "Run now" does. On PostgreSQL other processes (other test
    runs share the database here) may hold a transaction open that began before the erasure,
    so VACUUM had to keep the dead rows: the job says so and keeps the erasure; run it again
    until those transactions have ended (a condition, waited on for at most a minute)."""
    deadline = time.monotonic() + 60
    while True:
        run_id = schedule.run_now(job_name, utcnow()).id
        db.session.commit()
        db.session.close()
        run_tasks()
        finished = db.session.get(TaskRun, run_id)
        assert finished is not None and finished.state == RunState.SUCCEEDED, finished.error if finished else ""
        if "kept for the next run" not in finished.result or time.monotonic() > deadline:
            return finished
        time.sleep(0.2)


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


def _database_files() -> list[Path]:
    """SQLite: the main file, -wal and -shm. PostgreSQL: the search index table's files, when
    this process can read the data directory (it runs as root here); else none."""
    if not TEST_DATABASE_URL:
        return _sqlite_files()
    files = _relation_files("search_documents")
    return files if all(path.is_file() for path in files) else []


def _words_in_files() -> int:
    """How many copies of the canaries the database files hold now."""
    if TEST_DATABASE_URL:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("CHECKPOINT")  # write shared buffers to the table's files
    db.session.close()
    return sum(_found_in(_database_files()).values())


# On PostgreSQL the search index is UNLOGGED (revision 0028): CHECKPOINT does not write its
# pages, so whether the words are in its files before the purge depends on the buffer cache.
# Only the after-purge check (0 copies) is certain there; the canary test (test_canary.py)
# shows with a control word that the files and the WAL are really read.


def _readable() -> bool:
    readable = bool(_database_files())
    db.session.close()
    return readable


@pytest.mark.parametrize("hourly", [False, True], ids=["rewritten-nightly", "rewritten-hourly"])
def test_a_withdrawn_storys_words_leave_the_database_files(app_factory: Any, hourly: bool) -> None:
    app = app_factory(ERASURE_REWRITE_HOURLY=hourly)  # PostgreSQL only; SQLite compacts at once
    with app.app_context():
        users = factories.one_of_each_role()
        story_id, staff_id = _canary_story(users).id, users["staff"].id
        readable = _readable()
        if readable and not TEST_DATABASE_URL:  # (not on PostgreSQL: see the note above)
            assert _words_in_files() > 0  # indexed: the words are in the files

        _withdraw(story_id, staff_id)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SearchDocument)) == 0  # gone at once
        assert compaction.pending() == 1
        if readable and not TEST_DATABASE_URL:
            # Gone from every table, yet FTS5's segments and the WAL (SQLite), or a dead row
            # version (PostgreSQL), still hold the words until the compaction.
            assert _words_in_files() > 0

        if not TEST_DATABASE_URL:
            assert db.session.scalar(sa.text("PRAGMA secure_delete")) == 1  # set on every connection
            assert run_tasks() >= 1  # the compaction queued when the withdrawal committed
            assert _words_in_files() == 0
            # The checkpoint emptied the WAL; what it holds now was written after (the cleared
            # erasure record): a header and a frame or two of 4 KiB pages.
            assert _sqlite_files()[1].stat().st_size <= 32 + 2 * (24 + 4096)
            assert compaction.pending() == 0  # compacted: the hourly purge has nothing to do
            assert _run("erasure-purge").result == "Nothing erased since the last run."
            assert _run("erasure-rewrite").result.startswith("Nothing to do on this database")
        else:
            purged = _run("erasure-purge")
            assert "vacuumed" in purged.result and "checkpoint done" in purged.result
            assert ("search_documents rewritten in full" in purged.result) is hourly
            assert _run("erasure-purge").result == "Nothing erased since the last run."  # vacuumed once
            assert compaction.pending() == (0 if hourly else 1)  # the nightly rewrite is still to come
            if not hourly:
                assert "search_documents rewritten in full" in _run("erasure-rewrite").result
            assert compaction.pending() == 0
            assert _run("erasure-rewrite").result == "Nothing erased since the last run."
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SearchDocument)) == 0
        if readable:
            assert _words_in_files() == 0
            assert all(count == 0 for count in _found_in(_database_files()).values())


def _compact() -> None:
    if TEST_DATABASE_URL:
        _run("erasure-purge")
        _run("erasure-rewrite")
    else:
        run_tasks()


def test_a_deleted_posts_words_leave_the_database_files(app: Flask, users: dict[str, Any]) -> None:
    # In the body only: the audit entry of a deletion keeps the post's title (see the report).
    post = factories.make_post(users["member"], body=f"We learned {CANARIES[2]} together.")
    post_id, author_id = post.id, post.author_id
    readable = _readable()
    if readable and not TEST_DATABASE_URL:
        assert _words_in_files() > 0
    posts.delete_post(db.session.get_one(LearningPost, post_id), by=db.session.get_one(User, author_id))
    db.session.commit()
    db.session.close()
    assert compaction.pending() == 1
    if readable and not TEST_DATABASE_URL:
        assert _words_in_files() > 0
    _compact()
    assert compaction.pending() == 0
    if readable:
        assert _words_in_files() == 0


def test_the_hourly_purge_catches_an_erasure_whose_task_was_lost(app: Flask, users: dict[str, Any]) -> None:
    story_id, staff_id = _canary_story(users).id, users["staff"].id
    readable = _readable()
    _withdraw(story_id, staff_id)
    queue.flush()  # the compaction queued after the commit is lost (its worker died)
    assert run_tasks() == 0 and compaction.pending() == 1
    assert _run("erasure-purge").result.startswith("1 erasures")
    if TEST_DATABASE_URL:
        _run("erasure-rewrite")
    assert compaction.pending() == 0
    if readable:
        assert _words_in_files() == 0


def test_a_transaction_older_than_the_erasure_holds_the_compaction_back(app: Flask, users: dict[str, Any]) -> None:
    """A reader that began before the erasure can still see the erased rows: SQLite cannot empty
    the WAL under it, PostgreSQL's VACUUM must keep the dead rows; the erasure stays pending."""
    story_id, staff_id = _canary_story(users).id, users["staff"].id
    reader = db.engine.connect()
    if TEST_DATABASE_URL:
        reader = reader.execution_options(isolation_level="REPEATABLE READ")
    else:
        reader.exec_driver_sql("BEGIN")
    assert reader.execute(sa.select(sa.func.count()).select_from(Story)).scalar() == 1  # its snapshot begins
    try:
        _withdraw(story_id, staff_id)
        if TEST_DATABASE_URL:
            run_id = schedule.run_now("erasure-purge", utcnow()).id
            db.session.commit()
        else:
            run_id = None
        run_tasks()  # SQLite: the compaction finds the WAL busy and fails every retry
        if run_id is not None:
            result = db.session.get_one(TaskRun, run_id).result
            assert "1 kept for the next run, as older transactions were still open" in result, result
        assert compaction.pending() == 1
        assert db.session.scalar(sa.select(PendingErasure.vacuumed_at)) is None
    finally:
        reader.rollback()
        reader.close()
    db.session.close()
    _run("erasure-purge")  # the next hourly run finds it
    if TEST_DATABASE_URL:
        _run("erasure-rewrite")
    assert compaction.pending() == 0
    if _readable():
        assert _words_in_files() == 0


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
    assert schedule.JOBS["erasure-rewrite"].run(utcnow()) in {
        "Nothing erased since the last run.",
        "Nothing to do on this database (each erasure compacts its files at once).",
    }
