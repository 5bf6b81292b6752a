"""Fault tests: an upload on a full or read-only disk (issue 19, "Faults").

The disk's failures are made the way the kernel reports them: a write that has put part of the
file down and then fails with ``ENOSPC``, and an ``open``/``mkdir`` that fails with ``EROFS`` or
``EACCES`` (the tests may run as root, whom permission bits do not stop). In every case the
partial file is gone, no row was committed, and the person reads a 507 or 503 page saying to
try later.
"""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from portal.core import uploads
from portal.core.extensions import db
from portal.remuneration import claims
from portal.remuneration.models import Claim, ExpenseLine
from portal.stories.models import Story
from tests import factories, media_samples
from tests.helpers import Stream, client_for, count

PNG = media_samples.png()
MP3 = media_samples.mp3()


class HalfWritten:
    """A file whose write puts the first half of the bytes on disk, then finds the disk full."""

    def __init__(self, real: Any, record: list[tuple[Path, int]], path: Path) -> None:
        self.real, self.record, self.path = real, record, path

    def write(self, data: bytes) -> int:
        self.real.write(data[: len(data) // 2])
        self.real.flush()
        self.record.append((self.path, self.path.stat().st_size))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))

    def __enter__(self) -> HalfWritten:
        return self

    def __exit__(self, *exc: object) -> None:
        self.real.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.fixture
def disk(app: Flask, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``disk["full"]()``: writes under the uploads folder fail part-way with ENOSPC;
    ``disk["read_only"](errno.EROFS)``: creating anything there fails. ``disk["partial"]`` lists the
    (path, bytes on disk) of each file a full disk cut short."""
    root = Path(app.instance_path) / "uploads"
    real_open, real_mkdir = Path.open, Path.mkdir
    partial: list[tuple[Path, int]] = []

    def under_uploads(path: Path) -> bool:
        return root == path or root in path.parents

    def full() -> None:
        def open_half(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            opened = real_open(self, mode, *args, **kwargs)
            return HalfWritten(opened, partial, self) if under_uploads(self) and "r" not in mode else opened

        monkeypatch.setattr(Path, "open", open_half)

    def read_only(code: int) -> None:
        def refuse(path: Path) -> None:
            if under_uploads(path):
                raise OSError(code, os.strerror(code), str(path))

        def open_refused(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            if "r" not in mode:
                refuse(self)
            return real_open(self, mode, *args, **kwargs)

        def mkdir_refused(self: Path, *args: Any, **kwargs: Any) -> None:
            if not self.is_dir():
                refuse(self)
            real_mkdir(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", open_refused)
        monkeypatch.setattr(Path, "mkdir", mkdir_refused)

    return {"full": full, "read_only": read_only, "partial": partial, "root": root, "undo": monkeypatch.undo}


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def _claim(member: Any) -> Claim:
    card = factories.rate_card()
    claim = claims.create_claim(
        member,
        claims.ClaimDetails(card["Meeting"].id, factories.CLAIM_DAY, factories.Decimal("1"), None),
        today=factories.london_today(),
    )
    db.session.commit()
    return claim


def _add_receipt(app: Flask, member: Any, claim: Claim, **headers: str) -> Any:
    return client_for(app, member).post(
        f"/claims/{claim.id}/expenses",
        data={"category": "travel", "amount": "3.00", "description": "Bus", "receipt": (io.BytesIO(PNG), "bus.png")},
        content_type="multipart/form-data",
        headers=headers,
    )


def test_the_writer_removes_what_it_wrote_when_the_disk_fills(app: Flask, disk: dict[str, Any]) -> None:
    disk["full"]()
    with pytest.raises(uploads.StorageUnavailable) as failed:
        uploads.store(Stream(PNG), "bus.png", kind="receipts", max_bytes=len(PNG), field="receipt")
    assert failed.value.full and failed.value.status == 507
    (path, size), *_ = disk["partial"]
    assert size > 0 and not path.exists()  # half the file was on disk, and is gone
    assert _files(disk["root"]) == []


def test_a_receipt_on_a_full_disk_is_a_507_page_and_nothing_is_kept(
    app: Flask, users: dict[str, Any], disk: dict[str, Any]
) -> None:
    claim = _claim(users["member"])
    disk["full"]()
    response = _add_receipt(app, users["member"], claim)
    assert response.status_code == 507
    page = response.get_data(as_text=True)
    assert "Our file storage is full" in page and "Try again later" in page and "were not saved" in page
    assert response.headers["Retry-After"]
    assert disk["partial"] and not disk["partial"][0][0].exists()
    assert _files(disk["root"]) == [] and count(ExpenseLine) == 0  # no half file, no row
    in_place = _add_receipt(app, users["member"], claim, **{"HX-Request": "true"})
    assert in_place.status_code == 507 and in_place.headers["HX-Retarget"] == "#main"
    disk["undo"]()  # room again: the same upload goes through
    assert _add_receipt(app, users["member"], claim).status_code in {200, 303}
    assert count(ExpenseLine) == 1 and len(_files(disk["root"])) == 1


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_a_receipt_on_a_read_only_disk_is_a_503_page_and_nothing_is_kept(
    app: Flask, users: dict[str, Any], disk: dict[str, Any], code: int
) -> None:
    claim = _claim(users["member"])
    disk["read_only"](code)
    response = _add_receipt(app, users["member"], claim)
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "We cannot save files at the moment" in page and "Try again later" in page
    assert _files(disk["root"]) == [] and count(ExpenseLine) == 0


def test_story_media_on_a_full_disk_keeps_no_story_no_file_and_no_key(
    app: Flask, users: dict[str, Any], disk: dict[str, Any]
) -> None:
    disk["full"]()
    response = client_for(app, users["member"]).post(
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
            "media_file": (io.BytesIO(MP3), "voice.mp3"),
        },
    )
    assert response.status_code == 507, response.get_data(as_text=True)
    assert "Our file storage is full" in response.get_data(as_text=True)
    assert disk["partial"] and _files(disk["root"]) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Story)) == 0
    assert _files(Path(app.instance_path) / "story-keys") == []  # the new story's key went with it
