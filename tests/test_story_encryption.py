"""Crypto-shredding: each story's words, saved versions and media file are sealed with a key of
its own, kept in a file outside the database; withdrawal destroys the key first, so no copy of
the ciphertext (dead rows, WAL, backups) can be opened again."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import g

from portal.core import keystore, media_metadata
from portal.core.extensions import db
from portal.core.outbox import OutboxMessage
from portal.stories import media, moderation
from portal.stories.models import WITHDRAWN_TITLE, Story, StoryState
from portal.stories.telling import Upload
from tests import media_samples
from tests import stories_factories as make
from tests.helpers import Stream

WORDS = {
    "title": "Quokkabridge",
    "summary": "Marmalisk",
    "body": "Tanglewhorl",
    "transcript": "Brindlecove",
}
COLUMNS = (
    "title",
    "summary",
    "body",
    "transcript",
    "original_title",
    "original_summary",
    "original_body",
    "original_transcript",
)
AUDIO = media_metadata.clean(media_samples.ogg(), "audio/ogg")  # as the portal keeps it: no tags


def _story(users: dict[str, Any], *, upload: Upload | None = None, key_id: str | None = None) -> Story:
    teller = make.storyteller(user=users["member"], by=users["member"])
    story = make.story(
        teller,
        by=users["member"],
        staff=users["staff"],
        title=f"{WORDS['title']} at the café",
        summary=f"{WORDS['summary']} summary",
        body=f"The {WORDS['body']} body.",
        transcript=f"{WORDS['transcript']} transcript",
        upload=upload,
    )
    return story


def _media_story(users: dict[str, Any]) -> Story:
    key_id = keystore.create()
    stored, kind, content_type = media.store(Stream(AUDIO), max_bytes=10_000, key_id=key_id)
    return _story(users, upload=Upload(stored, kind, content_type, key_id=key_id))


def _raw_row(story_id: int) -> dict[str, Any]:
    columns = ", ".join(COLUMNS)
    row = db.session.execute(sa.text(f"SELECT {columns}, key_id FROM stories WHERE id = :id"), {"id": story_id})
    return dict(row.mappings().one())


def _raw_revisions(story_id: int) -> list[str]:
    rows = db.session.execute(
        sa.text("SELECT fields FROM revisions WHERE kind = 'stories' AND record_id = :id"), {"id": story_id}
    )
    return [str(fields) for fields in rows.scalars()]


def _forget_cached_keys() -> None:
    g.pop("_content_keys", None)  # as at the start of a new request


def _fresh(story_id: int) -> Story:
    db.session.expire_all()
    found = db.session.get(Story, story_id)
    assert found is not None
    return found


def test_the_row_holds_no_words_and_the_page_shows_them(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    story = _story(users)
    row = _raw_row(story.id)
    assert row["key_id"] and (keystore.key_dir() / f"{row['key_id']}.key").is_file()
    for column in COLUMNS:
        assert row[column], column  # something is stored ...
        assert not any(word in row[column] for word in WORDS.values()), column  # ... and it is not the words
    page = as_role("anonymous").get(f"/stories/{story.id}").get_data(as_text=True)
    assert f"{WORDS['title']} at the café" in page and f"The {WORDS['body']} body." in page
    assert f"{WORDS['transcript']} transcript" in page
    assert _fresh(story.id).original_summary == f"{WORDS['summary']} summary"


def test_sealed_text_does_not_open_in_another_field_or_with_another_story_key(app: Any, users: dict[str, Any]) -> None:
    story, other = _story(users), _story(users)
    sealed_title = _raw_row(story.id)["title"]
    key = keystore.data_key(story.key_id or "")
    assert keystore.open_text(key, sealed_title, purpose="stories.title") == f"{WORDS['title']} at the café"
    with pytest.raises(keystore.KeyGone):
        keystore.open_text(key, sealed_title, purpose="stories.summary")
    with pytest.raises(keystore.KeyGone):
        keystore.open_text(keystore.data_key(other.key_id or ""), sealed_title, purpose="stories.title")


def test_saved_versions_hold_no_words_and_still_compare(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    story = _story(users)
    moderation.start_review(story, by=users["staff"])
    moderation.edit(
        story,
        by=users["staff"],
        seen=story.version,
        title=story.title,
        summary=story.summary,
        body="A Snorkelwick body, edited.",
        transcript=story.transcript,
    )
    db.session.commit()
    stored = _raw_revisions(story.id)
    assert len(stored) == 2
    for fields in stored:
        assert not any(word in fields for word in (*WORDS.values(), "Snorkelwick"))
    history = as_role("staff").get(f"/stories/{story.id}/history").get_data(as_text=True)
    first, second = db.session.execute(
        sa.text("SELECT id FROM revisions WHERE record_id = :id ORDER BY version"), {"id": story.id}
    ).scalars()
    assert f'value="{first}"' in history
    compared = as_role("staff").get(f"/stories/{story.id}/history/compare?from={first}&to={second}")
    assert compared.status_code == 200
    text = compared.get_data(as_text=True)
    assert "Snorkelwick" in text and WORDS["body"] in text


def test_the_media_file_on_disk_is_sealed_and_the_route_serves_the_original(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    story = _media_story(users)
    on_disk = media.path_of(story.media_stored_name or "").read_bytes()
    assert b"vorbis" in AUDIO and b"vorbis" not in on_disk and not on_disk.startswith(b"OggS")
    visitor = as_role("anonymous")
    response = visitor.get(f"/stories/{story.id}/media")
    assert response.status_code == 200 and response.data == AUDIO
    assert response.mimetype == "audio/ogg" and response.headers["Cache-Control"] == "private, no-store"
    part = visitor.get(f"/stories/{story.id}/media", headers={"Range": "bytes=4-14"})
    assert part.status_code == 206 and part.data == AUDIO[4:15]


def test_withdrawal_destroys_the_key_and_nothing_taken_before_opens(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    story, other = _media_story(users), _story(users)
    before = _raw_row(story.id)
    revisions_before = _raw_revisions(story.id)
    media_before = media.path_of(story.media_stored_name or "").read_bytes()
    key_file = keystore.key_dir() / f"{before['key_id']}.key"
    assert key_file.is_file()

    response = as_role("member").post(f"/stories/{story.id}/withdraw", data={"confirm": "yes"})
    assert response.status_code == 303
    _forget_cached_keys()
    assert not key_file.exists()
    row = _raw_row(story.id)
    assert row["key_id"] is None and all(row[column] == "" for column in COLUMNS)
    assert _fresh(story.id).title == WITHDRAWN_TITLE
    # A copy taken before (a backup, an old row version) opens with no key file left.
    remaining = sorted(keystore.key_dir().glob("*.key"))
    emails = set(db.session.scalars(sa.select(OutboxMessage.key_id).where(OutboxMessage.key_id.is_not(None))))
    assert [path.stem for path in remaining if path.stem not in emails] == [other.key_id]
    for path in remaining:
        key = keystore.data_key(path.stem)
        for column in COLUMNS:
            with pytest.raises(keystore.KeyGone):
                keystore.open_text(key, before[column], purpose=f"stories.{column}")
        with pytest.raises(keystore.KeyGone):
            keystore.open_bytes(key, media_before, purpose=media.PURPOSE)
    assert revisions_before and _raw_revisions(story.id) == []
    with pytest.raises(keystore.KeyGone):
        keystore.data_key(before["key_id"])
    for role in ("anonymous", "member", "staff"):
        assert as_role(role).get(f"/stories/{story.id}").status_code == 404
        assert as_role(role).get(f"/stories/{story.id}/media").status_code == 404


def test_destroying_a_key_overwrites_its_file_before_unlinking(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    key_id = keystore.create()
    path = keystore.key_dir() / f"{key_id}.key"
    original = path.read_bytes()
    seen: list[bytes] = []
    real_unlink = Path.unlink

    def unlink(self: Path, missing_ok: bool = False) -> None:
        seen.append(self.read_bytes())
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    keystore.destroy(key_id)
    assert seen and seen[0] != original and len(seen[0]) == len(original)
    assert not path.exists()


def test_key_files_are_private_to_the_portal(app: Any) -> None:
    key_id = keystore.create()
    path = keystore.key_dir() / f"{key_id}.key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert not list(keystore.key_dir().glob(".*.tmp"))  # written whole, no temporary file left


def test_rotation_rewraps_every_key_and_the_old_secret_no_longer_opens(app: Any, users: dict[str, Any]) -> None:
    old_secret, new_secret = "the-old-master-secret-for-tests", "the-new-master-secret-for-tests"
    app.config["STORY_MASTER_KEY"] = old_secret
    story = _media_story(users)
    other = _story(users)
    files_before = {path.name: path.read_bytes() for path in keystore.key_dir().glob("*.key")}
    rows_before = [_raw_row(story.id), _raw_row(other.id)]

    app.config["STORY_MASTER_KEY"] = new_secret
    _forget_cached_keys()
    with pytest.raises(keystore.KeyGone):
        keystore.data_key(story.key_id or "")  # the new secret does not open old-wrapped files
    _forget_cached_keys()
    result = app.test_cli_runner().invoke(args=["rotate-story-keys", "--old-secret", old_secret])
    assert result.exit_code == 0, result.output
    assert f"Re-wrapped {len(files_before)} keys" in result.output  # the stories' and the waiting emails'
    assert len(files_before) >= 2
    files_after = {path.name: path.read_bytes() for path in keystore.key_dir().glob("*.key")}
    assert files_after.keys() == files_before.keys()
    assert all(files_after[name] != files_before[name] for name in files_before)
    assert [_raw_row(story.id), _raw_row(other.id)] == rows_before  # the database was not touched

    _forget_cached_keys()
    assert _fresh(story.id).title == f"{WORDS['title']} at the café"
    assert media.read(story.media_stored_name or "", story.key_id) == AUDIO
    again = app.test_cli_runner().invoke(args=["rotate-story-keys"], env={"PORTAL_OLD_STORY_MASTER_KEY": old_secret})
    assert again.exit_code == 0 and f"Re-wrapped 0 keys; {len(files_before)} already" in again.output

    app.config["STORY_MASTER_KEY"] = old_secret
    _forget_cached_keys()
    with pytest.raises(keystore.KeyGone):
        keystore.data_key(story.key_id or "")


def test_rotation_with_the_wrong_old_secret_changes_nothing_and_says_so(app: Any, users: dict[str, Any]) -> None:
    app.config["STORY_MASTER_KEY"] = "first-master-secret-for-tests"
    story = _story(users)
    path = keystore.key_dir() / f"{story.key_id}.key"
    before = path.read_bytes()
    app.config["STORY_MASTER_KEY"] = "second-master-secret-for-tests"
    _forget_cached_keys()
    result = app.test_cli_runner().invoke(args=["rotate-story-keys", "--old-secret", "not-the-secret"])
    assert result.exit_code != 0 and "open with neither secret" in result.output
    assert path.read_bytes() == before


def test_a_story_whose_key_file_is_gone_reads_as_withdrawn_and_never_errors(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    story = _media_story(users)
    kept = _story(users)
    os.remove(keystore.key_dir() / f"{story.key_id}.key")  # as after a withdrawal that rolled back
    _forget_cached_keys()
    found = _fresh(story.id)
    assert found.unreadable and found.state == StoryState.PUBLISHED
    assert found.title == WITHDRAWN_TITLE and found.body == ""
    staff, member, visitor = as_role("staff"), as_role("member"), as_role("anonymous")
    for client in (staff, member, visitor):
        assert client.get(f"/stories/{story.id}").status_code == 404
        assert client.get(f"/stories/{story.id}/media").status_code == 404
        library = client.get("/stories")
        assert library.status_code == 200 and kept.title in library.get_data(as_text=True)
    assert staff.get(f"/stories/{story.id}/history").status_code == 404
    assert staff.get(f"/stories/{story.id}/moderate").status_code == 404
    assert member.get("/stories/mine").status_code == 200
    export = staff.get("/stories/export/stories.csv").get_data(as_text=True)
    assert kept.title in export and WITHDRAWN_TITLE not in export
    feed = visitor.get("/stories/feed.xml")
    assert feed.status_code == 200 and kept.title in feed.get_data(as_text=True)


def test_withdrawing_a_story_whose_key_is_gone_finishes_the_erasure(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    story = _story(users)
    keystore.destroy(story.key_id or "")  # as when the commit after destroying it failed
    member = as_role("member")
    assert "Withdraw" in member.get(f"/stories/{story.id}/withdraw").get_data(as_text=True)
    assert member.post(f"/stories/{story.id}/withdraw", data={"confirm": "yes"}).status_code == 303
    row = _raw_row(story.id)
    assert row["key_id"] is None and all(row[column] == "" for column in COLUMNS)
    assert _fresh(story.id).state == StoryState.WITHDRAWN
