"""Uploads are stored and served as what their first bytes say they are, never as the client says."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from portal.core import uploads
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.remuneration import claims
from portal.remuneration.models import Claim, ExpenseLine
from portal.stories import media, moderation
from portal.stories.models import Story
from tests import factories, media_samples
from tests.helpers import Stream, client_for, count

PDF = media_samples.pdf()
PNG = media_samples.png()
JPEG = media_samples.jpeg()
HTML = b"<html><script>alert(1)</script></html>"
MP3 = media_samples.mp3()


def _claim(member: Any) -> Claim:
    card = factories.rate_card()
    claim = claims.create_claim(
        member,
        claims.ClaimDetails(card["Meeting"].id, factories.CLAIM_DAY, factories.Decimal("1"), None),
        today=factories.london_today(),
    )
    db.session.commit()
    return claim


def _receipts(app: Flask) -> list[Path]:
    folder = Path(app.instance_path) / "uploads" / "receipts"
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize(
    ("data", "name", "content_type", "extension"),
    [
        (PNG, "scan.pdf", "image/png", "png"),
        (PDF, "photo.jpg", "application/pdf", "pdf"),
        (JPEG, "ticket", "image/jpeg", "jpg"),
        (PDF, "page.html", "application/pdf", "pdf"),
    ],
)
def test_a_stored_file_takes_its_extension_from_its_bytes(
    app: Flask, data: bytes, name: str, content_type: str, extension: str
) -> None:
    kept = uploads.store(Stream(data), name, kind="receipts", max_bytes=1000, field="receipt")
    assert re.fullmatch(rf"[0-9a-f]{{32}}\.{extension}", kept.stored_name)
    assert kept.content_type == content_type
    assert kept.filename == f"{name.rpartition('.')[0] or name}.{extension}"
    assert uploads.path_of("receipts", kept.stored_name).read_bytes() == data


@pytest.mark.parametrize("data", [HTML, b"GIF89a" + b"\x00" * 20, b"MZ\x90\x00" + b"\x00" * 20])
def test_a_refused_type_has_a_message_by_the_field_and_nothing_is_kept(
    app: Flask, users: dict[str, Any], data: bytes
) -> None:
    claim = _claim(users["member"])
    member = client_for(app, users["member"])
    response = member.post(
        f"/claims/{claim.id}/expenses",
        data={"category": "travel", "amount": "3.00", "receipt": (io.BytesIO(data), "receipt.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    by_the_field = page[page.index('id="receipt-error"') :][:300]
    assert "The file must be a PDF, JPEG or PNG." in by_the_field
    assert count(ExpenseLine) == 0 and _receipts(app) == []


def test_a_receipt_is_served_with_the_sniffed_type_and_extension(app: Flask, users: dict[str, Any]) -> None:
    claim = _claim(users["member"])
    member = client_for(app, users["member"])
    response = member.post(
        f"/claims/{claim.id}/expenses",
        data={"category": "travel", "amount": "3.00", "receipt": (io.BytesIO(PNG), "receipt.html")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    line = db.session.scalars(sa.select(ExpenseLine)).one()
    assert line.receipt_stored_name.endswith(".png") and line.receipt_filename == "receipt.png"
    # Even if a row said otherwise (a file stored before types were sniffed), the bytes decide.
    line.receipt_content_type, line.receipt_filename = "text/html", "receipt.html"
    db.session.commit()
    with member.get(f"/claims/{claim.id}/expenses/{line.id}/receipt") as download:
        assert download.status_code == 200 and download.data == PNG
        assert download.mimetype == "image/png"
        disposition = download.headers["Content-Disposition"]
        assert disposition.startswith("attachment") and "receipt.png" in disposition and ".html" not in disposition
        assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_an_old_receipt_stored_without_an_extension_is_still_served(app: Flask, users: dict[str, Any]) -> None:
    claim = _claim(users["member"])
    line = claims.add_expense(
        claim,
        by=users["member"],
        category=factories.ExpenseCategory.TRAVEL,
        description="Bus",
        amount_pence=300,
        miles=None,
        mileage_rate_pence=45,
    )
    old_name = "ab" * 16
    (uploads.upload_dir("receipts") / old_name).write_bytes(PDF)
    line.receipt_stored_name, line.receipt_filename, line.receipt_content_type = old_name, "bus", "application/pdf"
    db.session.commit()
    with client_for(app, users["member"]).get(f"/claims/{claim.id}/expenses/{line.id}/receipt") as download:
        assert download.status_code == 200 and download.mimetype == "application/pdf"
        assert "bus.pdf" in download.headers["Content-Disposition"]


@pytest.mark.parametrize("name", ["../secret", "a" * 32 + ".pdf/../x", "A" * 32, "a" * 31, "a" * 32 + ".toolong", ""])
def test_only_the_portals_own_names_are_opened(app: Flask, name: str) -> None:
    with pytest.raises(FileNotFoundError):
        uploads.path_of("receipts", name)


def test_an_unknown_type_is_refused_by_the_service(app: Flask) -> None:
    with pytest.raises(RuleBroken) as refused:
        uploads.store(Stream(HTML), "x.pdf", kind="receipts", max_bytes=1000, field="receipt")
    assert refused.value.field == "receipt"


def test_story_media_is_stored_and_played_as_its_sniffed_type(app: Flask, users: dict[str, Any]) -> None:
    member = client_for(app, users["member"])
    response = member.post(
        "/stories/tell",
        content_type="multipart/form-data",
        data={
            "title": "The café we built",
            "summary": "How we chose the opening hours together.",
            "body": "We decided together.",
            "themes": ["outcomes"],
            "values": ["equality"],
            "scope": "public",
            "anonymous": "y",
            "pseudonym": "Wren",
            "consent": "y",
            "project_id": "",
            "transcript": "Hello.",
            "media_file": (io.BytesIO(MP3), "voice.html"),
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    story = db.session.scalar(sa.select(Story))
    assert re.fullmatch(r"[0-9a-f]{32}\.mp3", story.media_stored_name)
    assert story.media_content_type == "audio/mpeg"
    moderation.start_review(story, by=users["staff"])
    moderation.publish(story, by=users["staff"])
    story.media_content_type = "text/html"  # a row that says otherwise: the bytes decide
    db.session.commit()
    played = app.test_client().get(f"/stories/{story.id}/media")
    assert played.status_code == 200 and played.mimetype == "audio/mpeg" and played.data == MP3
    assert media.path_of(story.media_stored_name).is_file()
