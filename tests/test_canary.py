"""The canary: withdrawn means gone, measured the way an outsider would measure it.

A story carries words found nowhere else in every field (title, the words a moderator edited
out, summary, body, transcript, the recording's link, the consent note) and in its media file's
tags. It is moderated with an edit-out, published, indexed, exported and put in a digest that
is still waiting; then its storyteller withdraws it. Then every word is looked for in every
page and export, every table (every column, as text), the raw database files (SQLite: the main
file, ``-wal`` and ``-shm``; PostgreSQL: the files of every table and index in the schema, and
the write-ahead log, which this test can read when it runs as the database's owner or root, as
in CI), the uploads and key folders, the log, and the outbox. Each word must be found 0 times.
What is still stored sealed is tried with every key that remains: none opens it.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from portal import digest
from portal.core import compaction, keystore, outbox
from portal.core.extensions import db
from portal.core.outbox import OutboxMessage
from portal.core.revisions import Revision
from portal.notifications import inbox
from portal.stories import media, moderation
from portal.stories.models import Story, StoryState
from portal.stories.telling import Upload
from tests import factories, media_samples
from tests import stories_factories as make
from tests.helpers import Stream, found_stories, run_tasks

FIELDS = ("title", "edited_out", "summary", "body", "transcript", "consent", "tag_title", "tag_artist")


def _word() -> str:
    """A word no dictionary, stemmer or other test has: consonants only, so no stemmer cuts it."""
    return "qz" + "".join(secrets.choice("bcdfghjklmnpqrtvwxz") for _ in range(12)) + "k"


class Found:
    """Where any of the words turned up."""

    def __init__(self, words: dict[str, str], control: str = "") -> None:
        self.text = re.compile("|".join(words.values()), re.IGNORECASE)
        self.raw = re.compile("|".join(words.values()).encode(), re.IGNORECASE)
        self.places: list[str] = []
        # A word the portal keeps readable on purpose (a person's email address): found in a
        # kind of place, it shows the search really reads that place.
        self.control = control.encode()
        self.control_seen: set[str] = set()

    def in_text(self, where: str, text: str) -> None:
        for hit in set(self.text.findall(text)):
            self.places.append(f"{where}: {hit}")
        if self.control and self.control.decode() in text:
            self.control_seen.add(" ".join(where.split()[:2]))

    def in_bytes(self, where: str, data: bytes) -> None:
        for hit in set(self.raw.findall(data)):
            self.places.append(f"{where}: {hit.decode()}")
        if self.control and self.control in data:
            self.control_seen.add(" ".join(where.split()[:2]))

    def in_file(self, where: str, path: Path) -> None:
        try:
            data = path.read_bytes()  # database files, WAL segments (16 MB) and uploads: small enough
        except FileNotFoundError:
            return
        self.in_bytes(where, data)


def _tell(users: dict[str, Any], words: dict[str, str]) -> Story:
    key_id = keystore.create()
    recording = media_samples.mp3(title=words["tag_title"], artist=words["tag_artist"], comment=words["tag_artist"])
    stored, kind, content_type = media.store(Stream(recording), max_bytes=1_000_000, key_id=key_id)
    teller = make.storyteller(user=users["member"], by=users["member"], pseudonym="A storyteller")
    story = make.story(
        teller,
        by=users["member"],
        staff=users["staff"],
        state=StoryState.IN_REVIEW,
        title=f"The {words['title']} garden",
        summary=f"About {words['summary']} and the street on {words['edited_out']} Road.",
        body=f"We met at {words['body']}.",
        transcript=f"Spoken: {words['transcript']}.",
        upload=Upload(stored, kind, content_type, key_id=key_id),
    )
    story.consent_note = f"Said yes at the {words['consent']} café"
    db.session.commit()
    # The moderator edits the street name out (the storyteller's original keeps it), then publishes.
    moderation.edit(
        story,
        by=users["staff"],
        seen=story.version,
        title=story.title,
        summary=f"About {words['summary']} and the street.",
        body=story.body,
        transcript=story.transcript,
    )
    moderation.publish(story, by=users["staff"])
    db.session.commit()
    return story


def _pages(story_id: int, storyteller_id: int, words: dict[str, str]) -> list[tuple[str, str]]:
    """(role, url) of every page and export where the story or its words could show."""
    pages = [
        ("anonymous", f"/stories/{story_id}"),
        ("anonymous", f"/stories/{story_id}/media"),
        ("anonymous", "/stories"),
        ("anonymous", "/stories/feed.xml"),
        ("anonymous", "/stories/summary"),
        ("member", "/stories/mine"),
        ("member", f"/stories/{story_id}/history"),
        ("staff", "/stories/moderation"),
        ("staff", f"/stories/{story_id}/moderate"),
        ("staff", "/stories/export/stories.csv"),
        ("staff", "/stories/export/summary.csv"),
        ("staff", f"/stories/storytellers/{storyteller_id}/record"),
        ("staff", "/admin/audit"),
        ("staff", "/admin/jobs"),
        ("staff", "/"),
        ("member", "/"),
    ]
    for word in words.values():
        pages += [("anonymous", f"/search?q={word}"), ("member", f"/stories?q={word}"), ("staff", f"/search?q={word}")]
    return pages


def _tables(found: Found) -> None:
    """Every row of every table in the database (on SQLite, the search index's own tables too)."""
    inspector = sa.inspect(db.engine)
    for table in inspector.get_table_names():
        for row in db.session.execute(sa.text(f'SELECT * FROM "{table}"')):
            for value in row:
                if isinstance(value, bytes | memoryview):
                    found.in_bytes(f"table {table}", bytes(value))
                elif value is not None:
                    found.in_text(f"table {table}", str(value))


def _sqlite_files(found: Found) -> None:
    database = Path(db.engine.url.database or "")
    assert database.is_file()
    for suffix in ("", "-wal", "-shm", "-journal"):
        found.in_file(f"SQLite file {database.name}{suffix}", Path(f"{database}{suffix}"))


def _postgresql_files(found: Found) -> bool:
    """The files of every relation in this schema, and the WAL; False when they cannot be read."""
    if db.session.scalar(sa.text("SELECT current_setting('is_superuser')")) != "on":
        return False
    data = Path(db.session.scalar(sa.text("SHOW data_directory")) or "")
    if not os.access(data / "base", os.R_OK):
        return False
    db.session.execute(sa.text("CHECKPOINT"))
    paths = db.session.scalars(
        sa.text(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE (n.nspname = current_schema() OR c.oid IN (SELECT reltoastrelid FROM pg_class AS t"
            " JOIN pg_namespace AS tn ON tn.oid = t.relnamespace WHERE tn.nspname = current_schema()))"
            " AND pg_relation_filepath(c.oid) IS NOT NULL"
        )
    ).all()
    assert paths
    for relative in paths:
        base = data / relative
        for path in [base, *base.parent.glob(f"{base.name}.*"), *base.parent.glob(f"{base.name}_*")]:
            found.in_file(f"PostgreSQL file {relative}", path)
    for segment in sorted((data / "pg_wal").iterdir()):
        if segment.is_file():
            found.in_file(f"PostgreSQL WAL {segment.name}", segment)
    return True


def _purge(app: Flask) -> None:
    """What the portal does after an erasure, as the worker and the schedule would run it."""
    run_tasks()
    outbox.deliver_pending(app.config)
    db.session.commit()
    now = datetime.now(UTC)
    compaction.erasure_purge(now)
    db.session.commit()
    run_tasks()
    if db.engine.dialect.name == "postgresql":
        # VACUUM keeps what an older open transaction (another test worker's) may still see:
        # the rewrite is tried again, as the nightly job would be, until no erasure is left.
        for _ in range(80):
            compaction.erasure_rewrite(now)
            db.session.commit()
            if not compaction.pending():
                break
            time.sleep(0.25)
        assert not compaction.pending(), "the erasure was never clean: a transaction stayed open"
    else:
        compaction.checkpoint_sqlite()


def test_a_withdrawn_story_leaves_no_word_anywhere(
    app: Flask, as_role: Any, users: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    words = {name: _word() for name in FIELDS}
    subscriber = factories.user(email=f"{_word()}@example.test")
    inbox.save_choices(subscriber, {"digest": "weekly"})
    db.session.commit()
    story = _tell(users, words)
    story_id, storyteller_id = story.id, story.storyteller_id
    assert story.original_summary.count(words["edited_out"]) == 1 and words["edited_out"] not in story.summary

    clients = {role: as_role(role) for role in ("anonymous", "member", "staff")}
    # Before: the words are where they should be, so the search below can find them.
    assert words["title"] in clients["anonymous"].get(f"/stories/{story_id}").get_data(as_text=True)
    assert story_id in found_stories(words["body"], None)
    listed = clients["anonymous"].get(f"/search?q={words['body']}").get_data(as_text=True)
    assert f'href="/stories/{story_id}"' in listed  # so its absence after the withdrawal means something
    assert words["title"] in clients["staff"].get("/stories/export/stories.csv").get_data(as_text=True)
    assert digest.send_digest(now=datetime.now(UTC) + timedelta(minutes=1)) == 1
    db.session.commit()
    [waiting] = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "digest")).all()
    assert words["title"] in waiting.body and words["title"] not in waiting.sealed_body
    served = clients["anonymous"].get(f"/stories/{story_id}/media").get_data()
    assert served and words["tag_title"].encode() not in served and words["tag_artist"].encode() not in served
    sealed_before = [story.sealed_title, story.sealed_original_summary, story.sealed_body, story.sealed_consent_note]
    sealed_before += [
        str(fields.get("sealed", ""))
        for fields in db.session.scalars(
            sa.select(Revision.fields).where(Revision.kind == "stories", Revision.record_id == story_id)
        )
    ]
    assert all(sealed_before)

    response = clients["member"].post(f"/stories/{story_id}/withdraw", data={"confirm": "yes"})
    assert response.status_code == 303, response.get_data(as_text=True)
    _purge(app)

    found = Found(words, control=subscriber.email)
    for role, url in _pages(story_id, storyteller_id, words):
        page = clients[role].get(url)
        assert page.status_code < 500, url
        asked = url.partition("?q=")[2]  # a search page shows the words it was asked for, nothing more
        others = Found({k: w for k, w in words.items() if w != asked})
        others.in_bytes(f"page {url} as {role}", page.get_data())
        found.places += others.places
        if asked:
            assert "0 " in page.get_data(as_text=True) or "No " in page.get_data(as_text=True), url
            assert f'href="/stories/{story_id}"' not in page.get_data(as_text=True), url  # not among the results
    _tables(found)
    if db.engine.dialect.name == "sqlite":
        _sqlite_files(found)
    else:
        # CI (which requires every test to run) runs as root, so there the files must be read.
        assert _postgresql_files(found) or os.environ.get("PORTAL_REQUIRE_E2E") != "1"
    for path in Path(app.instance_path).rglob("*"):
        if path.is_file() and not path.name.endswith((".sqlite3", ".sqlite3-wal", ".sqlite3-shm")):
            found.in_file(f"instance file {path.relative_to(app.instance_path)}", path)
    found.in_text("the log", caplog.text)
    assert found.places == []
    # The search reads what it says it reads: the subscriber's address is in the users table,
    # and so in the database's files (on PostgreSQL its WAL too, where the files can be read).
    assert {"table users", "SQLite file", "PostgreSQL file", "PostgreSQL WAL"} & found.control_seen >= (
        {"table users", "SQLite file"} if db.engine.dialect.name == "sqlite" else {"table users"}
    ), found.control_seen
    if db.engine.dialect.name == "postgresql" and os.environ.get("PORTAL_REQUIRE_E2E") == "1":
        assert {"PostgreSQL file", "PostgreSQL WAL"} <= found.control_seen, found.control_seen

    # What stays sealed in older copies (dead rows, WAL, backups) opens with no key that is left.
    keys = [path.stem for path in keystore.key_dir().glob("*.key")]
    for key_id in keys:
        key = keystore.data_key(key_id)
        for sealed in sealed_before:
            for purpose in ("title", "original_summary", "body", "consent_note", "revision"):
                with pytest.raises(keystore.KeyGone):
                    keystore.open_text(key, sealed, purpose=f"stories.{purpose}")
    tombstone = db.session.get(Story, story_id)
    assert tombstone is not None and tombstone.state == StoryState.WITHDRAWN and tombstone.key_id is None


def test_a_recording_link_and_a_waiting_email_leave_nothing_either(
    app: Flask, as_role: Any, users: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """A story told with a link to its recording (no file), withdrawn while the digest that
    names it is still waiting: the link and the digest line go with it."""
    caplog.set_level(logging.DEBUG)
    words = {name: _word() for name in ("title", "link")}
    subscriber = factories.user()
    inbox.save_choices(subscriber, {"digest": "weekly"})
    teller = make.storyteller(by=users["staff"])
    story = make.story(
        teller,
        by=users["staff"],
        title=f"The {words['title']} bench",
        media_link=f"https://example.org/{words['link']}",
        transcript="What was said on the bench.",
    )
    digest.send_digest(now=datetime.now(UTC) + timedelta(minutes=1))
    db.session.commit()
    assert words["link"] in as_role("anonymous").get(f"/stories/{story.id}").get_data(as_text=True)
    response = as_role("staff").post(f"/stories/{story.id}/withdraw", data={"confirm": "yes"})
    assert response.status_code == 303
    _purge(app)
    found = Found(words)
    _tables(found)
    if db.engine.dialect.name == "sqlite":
        _sqlite_files(found)
    else:
        _postgresql_files(found)
    found.in_text("the log", caplog.text)
    assert found.places == []
