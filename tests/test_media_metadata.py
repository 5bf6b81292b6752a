"""Uploaded media is stored and served without the names, places and dates hidden inside it."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import mutagen
import mutagen.mp3
import mutagen.mp4
import mutagen.oggvorbis
import mutagen.wave
import pikepdf
import pytest
import sqlalchemy as sa
from flask import Flask
from PIL import Image

from portal.core import media_metadata
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.remuneration.models import ExpenseLine
from portal.stories import media, moderation
from portal.stories.models import Story
from tests import media_samples
from tests.helpers import client_for, count
from tests.test_uploads_sniffed import _claim, _receipts

NAME = "Annwen Quarrington"
STREET = "14 Marigold Terrace"

TELL = {
    "title": "The garden we dug",
    "summary": "How the allotment came together.",
    "body": "We dug it together.",
    "themes": ["outcomes"],
    "values": ["equality"],
    "scope": "public",
    "anonymous": "y",
    "pseudonym": "Wren",
    "consent": "y",
    "project_id": "",
    "transcript": "Hello.",
}


def _media_files(app: Flask) -> list[Path]:
    folder = Path(app.instance_path) / "uploads" / "story-media"
    return sorted(folder.iterdir()) if folder.exists() else []


def _tell(app: Flask, users: dict[str, Any], data: bytes, name: str) -> Any:
    return client_for(app, users["member"]).post(
        "/stories/tell", content_type="multipart/form-data", data={**TELL, "media_file": (io.BytesIO(data), name)}
    )


def test_an_anonymous_storys_mp3_is_played_without_its_id3_tags(app: Flask, users: dict[str, Any]) -> None:
    tagged = media_samples.mp3(title="My story", artist=NAME, comment=f"Recorded at home, {STREET}")
    assert isinstance(mutagen.File(io.BytesIO(tagged)).tags, mutagen.id3.ID3)  # the sample really is tagged
    assert NAME.encode() in tagged and STREET.encode() in tagged
    assert _tell(app, users, tagged, "voice.mp3").status_code == 303
    story = db.session.scalar(sa.select(Story))
    moderation.start_review(story, by=users["staff"])
    moderation.publish(story, by=users["staff"])
    db.session.commit()

    played = app.test_client().get(f"/stories/{story.id}/media")
    assert played.status_code == 200 and played.mimetype == "audio/mpeg"
    audio = mutagen.File(io.BytesIO(played.data))
    assert isinstance(audio, mutagen.mp3.MP3) and audio.tags is None and audio.info.length > 0
    assert NAME.encode() not in played.data and STREET.encode() not in played.data
    assert b"Marigold" not in played.data and not played.data.startswith(b"ID3") and b"TAG" not in played.data[-128:]
    # What is on disk is the cleaned copy too (sealed with the story's key), not only what is served.
    (stored,) = _media_files(app)
    assert media.read(stored.name, story.key_id) == played.data
    assert NAME.encode() not in stored.read_bytes() and STREET.encode() not in stored.read_bytes()


def test_a_receipt_photo_is_downloaded_without_its_gps_position(app: Flask, users: dict[str, Any]) -> None:
    photo = media_samples.jpeg(gps=True, author=NAME)
    with Image.open(io.BytesIO(photo)) as original:
        assert original.getexif().get_ifd(0x8825) and original.size == (8, 6)
    claim = _claim(users["member"])
    member = client_for(app, users["member"])
    response = member.post(
        f"/claims/{claim.id}/expenses",
        data={"category": "travel", "amount": "3.00", "receipt": (io.BytesIO(photo), "bus.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    line = db.session.scalars(sa.select(ExpenseLine)).one()
    with member.get(f"/claims/{claim.id}/expenses/{line.id}/receipt") as download:
        assert download.status_code == 200 and download.mimetype == "image/jpeg"
        served = download.data
    with Image.open(io.BytesIO(served)) as cleaned:
        assert cleaned.format == "JPEG"
        assert len(cleaned.getexif()) == 0 and not cleaned.getexif().get_ifd(0x8825)
        assert "exif" not in cleaned.info and "xmp" not in cleaned.info and "icc_profile" not in cleaned.info
        assert cleaned.size == (6, 8)  # the camera's rotation is applied to the pixels, not lost
    assert NAME.encode() not in served and b"Exif" not in served


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (media_samples.m4a(title="My story", artist=NAME), "audio/mp4"),
        (media_samples.ogg(artist=NAME), "audio/ogg"),
        (media_samples.wav(artist=NAME), "audio/wav"),
        (media_samples.png(text=NAME), "image/png"),
        (media_samples.pdf(author=NAME), "application/pdf"),
    ],
)
def test_every_accepted_type_loses_its_tags(data: bytes, content_type: str) -> None:
    assert NAME.encode() in data  # the sample carries the name in its metadata
    cleaned = media_metadata.clean(data, content_type)
    assert NAME.encode() not in cleaned
    if content_type == "audio/mp4":
        audio = mutagen.File(io.BytesIO(cleaned))
        assert isinstance(audio, mutagen.mp4.MP4) and not audio.tags
    elif content_type == "audio/ogg":
        audio = mutagen.File(io.BytesIO(cleaned))
        assert isinstance(audio, mutagen.oggvorbis.OggVorbis) and list(audio.tags or []) == []
    elif content_type == "audio/wav":
        audio = mutagen.File(io.BytesIO(cleaned))
        assert isinstance(audio, mutagen.wave.WAVE) and audio.info.length > 0 and b"LIST" not in cleaned
    elif content_type == "image/png":
        with Image.open(io.BytesIO(cleaned)) as picture:
            assert picture.format == "PNG" and picture.size == (4, 4)
            assert "Author" not in picture.info and "Description" not in picture.info
    else:
        with pikepdf.open(io.BytesIO(cleaned)) as document:
            assert len(document.pages) == 1
            assert "/Info" not in document.trailer and "/Metadata" not in document.Root
            assert NAME not in str(document.open_metadata())


def test_a_webm_video_is_refused_with_the_types_we_accept(app: Flask, users: dict[str, Any]) -> None:
    webm = b"\x1a\x45\xdf\xa3" + b"\x00" * 200
    response = _tell(app, users, webm, "talk.webm")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    by_the_field = page[page.index('id="media_file-error"') :][:500]
    assert "WebM" in by_the_field and "MP3, M4A, OGG or WAV" in by_the_field and "MP4" in by_the_field
    assert count(Story) == 0 and _media_files(app) == []


def test_a_file_that_cannot_be_read_is_refused_and_nothing_is_kept(app: Flask, users: dict[str, Any]) -> None:
    # First bytes that say MP3, then nothing an MP3 player (or mutagen) could read.
    response = _tell(app, users, b"ID3\x04\x00\x00\x00\x00\x00\x05" + b"\x00" * 300, "voice.mp3")
    assert response.status_code == 422
    assert "We could not read this MP3 file" in response.get_data(as_text=True)
    assert count(Story) == 0 and _media_files(app) == []

    claim = _claim(users["member"])
    response = client_for(app, users["member"]).post(
        f"/claims/{claim.id}/expenses",
        data={"category": "travel", "amount": "3.00", "receipt": (io.BytesIO(b"\xff\xd8\xff\xe0broken"), "bus.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "We could not read this JPEG file" in page[page.index('id="receipt-error"') :][:500]
    assert count(ExpenseLine) == 0 and _receipts(app) == []


def test_a_password_protected_pdf_is_refused_with_what_to_do() -> None:
    document = pikepdf.new()
    document.add_blank_page()
    locked = io.BytesIO()
    document.save(locked, encryption=pikepdf.Encryption(owner="o", user="secret"))
    with pytest.raises(RuleBroken) as refused:
        media_metadata.clean(locked.getvalue(), "application/pdf", field="receipt")
    assert refused.value.field == "receipt" and "password" in refused.value.message
