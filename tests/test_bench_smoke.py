"""The benchmark's fill at a tiny size: the counts it promises, and stories sealed so they read back.

No timings here: speed is measured with ``make bench``, never in a test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from portal.core import keystore
from portal.core.extensions import db
from tests.benchmarks import fill
from tests.helpers import TEST_DATABASE_URL, worker_name

SCALE = 0.001  # 100 people, 1,000 claims, 100 stories, 50 posts, 5 projects


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, fill.FillReport]]:
    folder = str(tmp_path_factory.mktemp("bench"))
    schema = f"{os.environ.get('PORTAL_TEST_SCHEMA_PREFIX', '')}bench_{worker_name()}"
    uri = fill.new_database(folder, TEST_DATABASE_URL, schema)
    app = fill.make_app(folder, uri)
    with app.app_context():
        report = fill.fill(app, SCALE, log=lambda _line: None)
    yield app, report
    with app.app_context():
        db.engine.dispose()
    fill.drop_database(folder, TEST_DATABASE_URL, schema)


def count(table: str, where: str = "") -> int:
    return int(db.session.scalar(sa.text(f"SELECT count(*) FROM {table} {where}")) or 0)


def test_fill_makes_the_promised_counts(filled: tuple[Flask, fill.FillReport]) -> None:
    app, report = filled
    expected = fill.sizes(SCALE)
    with app.app_context():
        assert count("users") == expected["users"] == report.counts["users"]
        assert count("claims") == expected["claims"]
        assert count("stories") == expected["stories"]
        assert count("learning_posts") == expected["posts"]
        assert count("projects") == expected["projects"]
        assert count("applications") == 4 * expected["projects"]
        assert count("audit_entries") == expected["audit"]
        assert count("outbox_messages") == expected["outbox"]
        assert count("claims", f"WHERE batch_id = {report.ids['batch']}") == expected["batch"]
        # Realistic mixes: most stories published, members-only ones, waiting claims and emails.
        published = count("stories", "WHERE state = 'published'")
        assert expected["stories"] * 0.7 < published < expected["stories"]
        assert count("stories", "WHERE scope = 'network' AND state = 'published'") > 0
        assert count("learning_posts", "WHERE visibility = 'members'") > 0
        assert (
            count("claims", "WHERE state IN ('submitted', 'confirmed', 'approved', 'queried')") == expected["waiting"]
        )
        assert count("outbox_messages", "WHERE sent_at IS NULL") > 0


def test_stories_are_sealed_and_read_back(filled: tuple[Flask, fill.FillReport]) -> None:
    from portal.stories.models import Story, StoryState

    app, report = filled
    with app.app_context():
        stories = db.session.scalars(sa.select(Story).where(Story.state == StoryState.PUBLISHED)).all()
        assert stories
        for story in stories:
            assert story.key_id is not None and keystore.exists(story.key_id)
            assert story.title and story.body.count(" ") > 40  # real words, read through the story's key
            assert story.title not in story.sealed_title  # and the column holds them sealed
        documents = dict(
            db.session.execute(sa.text("SELECT object_id, title FROM search_documents WHERE kind = 'story'")).all()
        )
        assert all(documents[story.id] == story.title for story in stories if story.scope != "research")
        key_files = list(Path(app.config["STORY_KEY_PATH"]).glob("*.key"))
        assert (
            len(key_files)
            == report.key_files
            == count("stories", "WHERE key_id IS NOT NULL") + count("outbox_messages", "WHERE key_id IS NOT NULL")
        )


def test_bench_accounts_sign_in_through_the_real_form(filled: tuple[Flask, fill.FillReport]) -> None:
    """Staff sign in with the bench's second factor, a member with the password alone."""
    from tests.benchmarks.bench_pages import sign_in_test_client

    app, report = filled
    for role in ("staff", "member"):
        client = sign_in_test_client(app, report.who[role])
        assert client.get("/dashboard").status_code == 200
